"""torch.distributed's collectives on MPI, in place on tensors; ``async_op=True`` returns a ``Work``.

>>> import tensorstein as torch, tensorstein.distributed as dist
>>> dist.init_process_group("mpi")             # doctest: +SKIP
>>> t = torch.ones(4); dist.all_reduce(t)      # doctest: +SKIP
"""
from __future__ import annotations

import time

import numpy as np

from ._buffers import Buf, average, check_op, mpi_array, mpi_op, shape_of
from ._group import _NOT_INIT, ReduceOp, Work, _resolve, _State, _Watchdog

__all__ = [
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "all_to_all_single",
    "broadcast",
    "broadcast_object_list",
    "gather",
    "gather_object",
    "irecv",
    "isend",
    "recv",
    "reduce",
    "reduce_scatter_tensor",
    "scatter",
    "send",
]


def _launch(g, name, async_op, blocking, nonblocking, finish=None):
    """Run one MPI operation: blocking under the timeout watchdog, or started and handed back as a Work."""
    MPI = _State.MPI
    try:
        if async_op:
            return Work(g, [nonblocking()], finish, name)
        with _Watchdog.watch(name, g.timeout):
            blocking()
    except MPI.Exception as exc:
        raise RuntimeError(f"{name} failed in MPI: {exc.Get_error_string()} (do all ranks pass tensors of the "
                           "same shape and dtype? set TORCH_DISTRIBUTED_DEBUG=DETAIL to compare them)") from None
    if finish is not None:
        finish()
    return None


def _debug_check(g, name, tensor):
    """With TORCH_DISTRIBUTED_DEBUG=DETAIL, compare the collective and its shape/dtype across ranks."""
    if not _State.debug:
        return
    mine = (name, shape_of(tensor), str(tensor.dtype))
    every = g.comm.allgather(mine)
    for r, other in enumerate(every):
        if other != mine:
            raise RuntimeError(
                f"Detected mismatch between collectives on ranks. Rank {g.rank()} is running collective: "
                f"{mine[0]} with shape {mine[1]} and dtype {mine[2]}, but Rank {r} is running collective: "
                f"{other[0]} with shape {other[1]} and dtype {other[2]}.")


def _same(name, what, t, ref):
    if t._data.shape != ref._data.shape or t._data.dtype != ref._data.dtype:
        raise ValueError(f"{name}: {what} has shape {shape_of(t)} and dtype {t.dtype} but the input tensor has "
                         f"shape {shape_of(ref)} and dtype {ref.dtype}")


def _list_len(name, what, lst, n):
    if lst is None or len(lst) != n:
        raise ValueError(f"{name}: {what} must hold one tensor per rank ({n}), got "
                         f"{'None' if lst is None else len(lst)}")


_FAST_OPS: dict = {}  # (ReduceOp, NumPy dtype) -> MPI op, for types MPI reduces natively


def _fast_op(op, dtype):
    if not _FAST_OPS:
        MPI = _State.MPI
        for dt in ("float32", "float64", "int8", "uint8", "int16", "int32", "int64"):
            for o in (ReduceOp.SUM, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX):
                _FAST_OPS[o, np.dtype(dt)] = mpi_op(MPI, o, np.dtype(dt))
    return _FAST_OPS.get((op, dtype))


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over the group; every rank gets the result in ``tensor``."""
    g = _State.world if group is None else group
    if g is None:
        raise ValueError(_NOT_INIT)
    if g.comm is None:
        return None
    a = tensor._data
    mop = _fast_op(op, a.dtype)
    if mop is not None and not async_op and not _State.debug and a.flags.c_contiguous:
        # the hot path: straight to MPI on the tensor's own buffer, under the watchdog
        pending = _Watchdog.pending
        pending[0] = ("all_reduce", time.monotonic() + g.timeout_s, g.timeout)
        try:
            g.comm.Allreduce(_State.MPI.IN_PLACE, a, mop)
        finally:
            del pending[0]
        tensor._version[0] += 1
        return None
    check_op(op, tensor._data.dtype, "all_reduce")
    _debug_check(g, "all_reduce", tensor)
    MPI, b = _State.MPI, Buf(tensor, reduce=True)
    mop = mpi_op(MPI, op, tensor._data.dtype)

    def finish():
        if op is ReduceOp.AVG:
            average(b.arr, g.size())
        b.back()
    return _launch(g, "all_reduce", async_op, lambda: g.comm.Allreduce(MPI.IN_PLACE, b.arr, mop),
                   lambda: g.comm.Iallreduce(MPI.IN_PLACE, b.arr, mop), finish)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy ``tensor`` of global rank ``src`` into ``tensor`` on every rank."""
    g = _resolve(group)
    if g.comm is None:
        return None
    _debug_check(g, "broadcast", tensor)
    root, b = g.group_rank(src), Buf(tensor)
    return _launch(g, "broadcast", async_op, lambda: g.comm.Bcast(b.arr, root),
                   lambda: g.comm.Ibcast(b.arr, root), b.back)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over the group into ``tensor`` on global rank ``dst`` (others keep theirs)."""
    g = _resolve(group)
    if g.comm is None:
        return None
    check_op(op, tensor._data.dtype, "reduce")
    _debug_check(g, "reduce", tensor)
    MPI, root = _State.MPI, g.group_rank(dst)
    mop = mpi_op(MPI, op, tensor._data.dtype)
    if g.rank() == root:
        b = Buf(tensor, reduce=True)
        args = (MPI.IN_PLACE, b.arr, mop, root)

        def finish():
            if op is ReduceOp.AVG:
                average(b.arr, g.size())
            b.back()
    else:
        args, finish = (mpi_array(tensor._data, reduce=True), None, mop, root), None
    return _launch(g, "reduce", async_op, lambda: g.comm.Reduce(*args), lambda: g.comm.Ireduce(*args), finish)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Every rank's ``tensor`` into ``tensor_list[rank]`` on every rank."""
    g = _resolve(group)
    if g.comm is None:
        return None
    _list_len("all_gather", "tensor_list", tensor_list, g.size())
    for i, t in enumerate(tensor_list):
        _same("all_gather", f"tensor_list[{i}]", t, tensor)
    _debug_check(g, "all_gather", tensor)
    send = mpi_array(tensor._data)
    recv = np.empty((g.size(),) + send.shape, send.dtype)  # (world, *shape)

    def finish():
        for t, part in zip(tensor_list, recv):
            t._data[...] = part.view(t._data.dtype)
            t._version[0] += 1
    return _launch(g, "all_gather", async_op, lambda: g.comm.Allgather(send, recv),
                   lambda: g.comm.Iallgather(send, recv), finish)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's input, concatenated (or stacked) in rank order into ``output_tensor``."""
    g = _resolve(group)
    if g.comm is None:
        return None
    if (output_tensor._data.size != input_tensor._data.size * g.size()
            or output_tensor._data.dtype != input_tensor._data.dtype):
        raise ValueError(f"all_gather_into_tensor: the output tensor of shape {shape_of(output_tensor)} "
                         f"({output_tensor.dtype}) must be world_size ({g.size()}) times the input tensor of "
                         f"shape {shape_of(input_tensor)} ({input_tensor.dtype})")
    _debug_check(g, "all_gather_into_tensor", input_tensor)
    send, b = mpi_array(input_tensor._data), Buf(output_tensor)
    return _launch(g, "all_gather_into_tensor", async_op, lambda: g.comm.Allgather(send, b.arr),
                   lambda: g.comm.Iallgather(send, b.arr), b.back)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` (world_size x output) over the group; rank r gets chunk r in ``output``."""
    g = _resolve(group)
    if g.comm is None:
        return None
    if output._data.size * g.size() != input._data.size or output._data.dtype != input._data.dtype:
        raise ValueError(f"reduce_scatter_tensor: the input tensor of shape {shape_of(input)} ({input.dtype}) "
                         f"must be world_size ({g.size()}) times the output tensor of shape "
                         f"{shape_of(output)} ({output.dtype})")
    check_op(op, input._data.dtype, "reduce_scatter_tensor")
    _debug_check(g, "reduce_scatter_tensor", input)
    MPI = _State.MPI
    mop = mpi_op(MPI, op, input._data.dtype)
    send, b = mpi_array(input._data, reduce=True), Buf(output, reduce=True)

    def finish():
        if op is ReduceOp.AVG:
            average(b.arr, g.size())
        b.back()
    return _launch(g, "reduce_scatter_tensor", async_op, lambda: g.comm.Reduce_scatter_block(send, b.arr, mop),
                   lambda: g.comm.Ireduce_scatter_block(send, b.arr, mop), finish)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Every rank's ``tensor`` into ``gather_list`` on global rank ``dst``."""
    g = _resolve(group)
    if g.comm is None:
        return None
    root = g.group_rank(dst)
    send = mpi_array(tensor._data)
    if g.rank() == root:
        _list_len("gather", "gather_list", gather_list, g.size())
        for i, t in enumerate(gather_list):
            _same("gather", f"gather_list[{i}]", t, tensor)
        recv = np.empty((g.size(),) + send.shape, send.dtype)  # (world, *shape)

        def finish():
            for t, part in zip(gather_list, recv):
                t._data[...] = part.view(t._data.dtype)
                t._version[0] += 1
    else:
        if gather_list:
            raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
        recv, finish = None, None
    _debug_check(g, "gather", tensor)
    return _launch(g, "gather", async_op, lambda: g.comm.Gather(send, recv, root),
                   lambda: g.comm.Igather(send, recv, root), finish)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """``scatter_list[r]`` of global rank ``src`` into ``tensor`` on rank r."""
    g = _resolve(group)
    if g.comm is None:
        return None
    root, b = g.group_rank(src), Buf(tensor)
    if g.rank() == root:
        _list_len("scatter", "scatter_list", scatter_list, g.size())
        for i, t in enumerate(scatter_list):
            _same("scatter", f"scatter_list[{i}]", t, tensor)
        send = np.stack([mpi_array(t._data) for t in scatter_list])  # (world, *shape)
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
        send = None
    _debug_check(g, "scatter", tensor)
    return _launch(g, "scatter", async_op, lambda: g.comm.Scatter(send, b.arr, root),
                   lambda: g.comm.Iscatter(send, b.arr, root), b.back)


def _splits(name, what, sizes, t, n):
    rows = t._data.shape[0] if t._data.ndim else 1
    if sizes is None or len(sizes) == 0:
        if rows % n:
            raise ValueError(f"{name}: {what} of shape {shape_of(t)} does not split evenly over {n} ranks")
        return [rows // n] * n
    sizes = [int(s) for s in sizes]
    if len(sizes) != n or sum(sizes) != rows:
        raise ValueError(f"{name}: {what} split sizes {sizes} must have {n} entries summing to dim 0 of "
                         f"shape {shape_of(t)}")
    return sizes


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """Split ``input`` along dim 0 and send piece r to rank r; ``output`` receives a piece from every rank."""
    g = _resolve(group)
    if g.comm is None:
        return None
    n = g.size()
    row_in = input._data.size // max(input._data.shape[0] if input._data.ndim else 1, 1)
    row_out = output._data.size // max(output._data.shape[0] if output._data.ndim else 1, 1)
    if row_in != row_out or input._data.dtype != output._data.dtype:
        raise ValueError(f"all_to_all_single: output of shape {shape_of(output)} ({output.dtype}) and input of "
                         f"shape {shape_of(input)} ({input.dtype}) must agree beyond dim 0")
    s_in = _splits("all_to_all_single", "input", input_split_sizes, input, n)
    s_out = _splits("all_to_all_single", "output", output_split_sizes, output, n)
    send, b = mpi_array(input._data), Buf(output)
    sc, rc = [s * row_in for s in s_in], [s * row_out for s in s_out]
    sd, rd = np.cumsum([0] + sc[:-1]).tolist(), np.cumsum([0] + rc[:-1]).tolist()
    sspec, rspec = [send, (sc, sd)], [b.arr, (rc, rd)]
    return _launch(g, "all_to_all_single", async_op, lambda: g.comm.Alltoallv(sspec, rspec),
                   lambda: g.comm.Ialltoallv(sspec, rspec), b.back)


# ---------------------------------------------------------------- point to point
def isend(tensor, dst=None, group=None, tag=0):
    """Start sending ``tensor`` to global rank ``dst``; returns a Work."""
    g = _resolve(group)
    if g.comm is None:
        return None
    arr = mpi_array(tensor._data)
    return _launch(g, "send", True, None, lambda: g.comm.Isend(arr, g.group_rank(dst), tag))


def send(tensor, dst=None, group=None, tag=0):
    isend(tensor, dst, group, tag).wait()


def irecv(tensor, src=None, group=None, tag=0):
    """Start receiving into ``tensor`` from global rank ``src`` (any rank when None); returns a Work."""
    g = _resolve(group)
    if g.comm is None:
        return None
    MPI, b = _State.MPI, Buf(tensor)
    status = MPI.Status()
    source = MPI.ANY_SOURCE if src is None else g.group_rank(src)
    def finish():
        b.back()
        if status.Get_count(MPI.BYTE) != b.arr.nbytes:
            raise RuntimeError(f"recv: received {status.Get_count(MPI.BYTE)} bytes into a tensor of shape "
                               f"{shape_of(tensor)} ({b.arr.nbytes} bytes)")
        return g.ranks[status.Get_source()]
    return Work(g, [g.comm.Irecv(b.arr, source, tag)], finish, "recv", status)


def recv(tensor, src=None, group=None, tag=0) -> int:
    """Receive into ``tensor``; returns the sender's global rank."""
    work = irecv(tensor, src, group, tag)
    if work is None:
        return -1
    work.wait()
    return work.result_value


# ---------------------------------------------------------------- picklable objects
def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replace ``object_list`` on every rank by the list of global rank ``src``."""
    g = _resolve(group)
    if g.comm is None:
        return
    root = g.group_rank(src)
    with _Watchdog.watch("broadcast_object_list", g.timeout):
        objs = g.comm.bcast(list(object_list) if g.rank() == root else None, root)
    if len(objs) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {src} sent {len(objs)} objects but this rank's list has "
                         f"{len(object_list)}")
    object_list[:] = objs


def all_gather_object(object_list, obj, group=None):
    """``object_list[r]`` becomes rank r's ``obj`` on every rank."""
    g = _resolve(group)
    if g.comm is None:
        return
    with _Watchdog.watch("all_gather_object", g.timeout):
        objs = g.comm.allgather(obj)
    for i, o in enumerate(objs):
        object_list[i] = o


def gather_object(obj, object_gather_list=None, dst=0, group=None):
    """Rank r's ``obj`` into ``object_gather_list[r]`` on global rank ``dst``."""
    g = _resolve(group)
    if g.comm is None:
        return
    with _Watchdog.watch("gather_object", g.timeout):
        objs = g.comm.gather(obj, g.group_rank(dst))
    if objs is not None:
        for i, o in enumerate(objs):
            object_gather_list[i] = o
