"""DDP's gradient reducer: buckets of gradients all-reduced while backward is still running.

Parameters are grouped in reverse order (the order backward produces their gradients) into buckets of at
most ``bucket_cap_mb`` (the first one 1 MB, like torch). A post-accumulate-grad hook marks a parameter
ready; when every parameter of a bucket is ready, its gradients are copied into one flat buffer and a
non-blocking all-reduce (MPI Iallreduce) starts. Buckets start in the same order on every rank (MPI
matches collectives by order). The hook that starts the last bucket waits for all of them and writes the
averaged gradients back, so ``backward()`` returns with synchronised ``.grad``.
"""
from __future__ import annotations

import time

import ml_dtypes
import numpy as np

_FIRST_BUCKET_BYTES = 1024 * 1024
_HALF = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. This error indicates "
    "that your module has parameters that were not used in producing loss. You can enable unused parameter "
    "detection by passing the keyword argument `find_unused_parameters=True` to "
    "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs participate "
    "in calculating loss. Parameter indices which did not receive grad for rank {rank}: {missing}")


class _Bucket:
    __slots__ = ("flat", "offsets", "params", "pending", "request")

    def __init__(self, params):
        self.params = params
        sizes = [p._data.size for p in params]
        self.offsets = np.cumsum([0] + sizes).tolist()
        dtype = params[0]._data.dtype
        self.flat = np.zeros(self.offsets[-1], np.float32 if dtype in _HALF else dtype)  # (numel,)
        self.pending = len(params)
        self.request = None


def assign_buckets(params, cap_bytes):
    """Lists of parameters, in reverse order, split by dtype and size like torch's reducer."""
    buckets, open_ = [], {}  # dtype -> (params, bytes)
    limit = {}
    for p in reversed(params):
        key = p._data.dtype
        cur, nbytes = open_.get(key, ([], 0))
        cur.append(p)
        nbytes += p._data.nbytes
        if nbytes >= limit.get(key, min(_FIRST_BUCKET_BYTES, cap_bytes)):
            buckets.append(cur)
            limit[key] = cap_bytes
            cur, nbytes = [], 0
        open_[key] = (cur, nbytes)
    buckets.extend(cur for cur, _ in open_.values() if cur)
    return buckets


class Reducer:
    """Owns the buckets and the hooks of one DistributedDataParallel module."""

    def __init__(self, params, group, bucket_cap_mb, find_unused):
        from ...distributed._group import _State

        self.MPI = _State.MPI
        self.group, self.params, self.find_unused = group, params, find_unused
        self.buckets = [_Bucket(b) for b in assign_buckets(params, int(bucket_cap_mb * 1024 * 1024))]
        self.where = {}  # id(param) -> bucket index
        for i, b in enumerate(self.buckets):
            for p in b.params:
                self.where[id(p)] = i
        self.index = {id(p): i for i, p in enumerate(params)}
        self.active = False
        self.next_bucket = 0
        self.inflight: list = []  # requests started this iteration
        self.used = np.zeros(len(params), np.int32)
        # perf_counter() when this rank's last gradient was ready and when every bucket was reduced, and the
        # bytes whose all-reduce had already completed by then, i.e. hidden behind backward (benchmarks)
        self.last_grad_time = self.done_time = 0.0
        self.hidden_bytes = 0
        self.handles = [p.register_post_accumulate_grad_hook(self._ready) for p in params]

    # -------------------------------------------------------------- per iteration
    def prepare(self, active: bool) -> None:
        """Called by forward: check the previous iteration finished, then arm (or disarm) the hooks."""
        if self.active and 0 < self._ready_count() < len(self.params):
            missing = [self.index[id(p)] for b in self.buckets for p in b.params if p.grad is None]
            raise RuntimeError(UNFINISHED.format(rank=self.group.rank(), missing=missing or "unknown"))
        self.active = active
        self.next_bucket = 0
        self.inflight = []
        self.used[:] = 0
        for b in self.buckets:
            b.pending = len(b.params)
            b.request = None

    def mark_unused(self, outputs) -> None:
        """find_unused_parameters: parameters the outputs do not depend on are ready now."""
        reached = _leaves_reached(outputs)
        for p in self.params:
            if id(p) not in reached:
                self._ready(p, used=False)

    def _ready_count(self) -> int:
        return sum(len(b.params) - b.pending for b in self.buckets)

    def _ready(self, p, used=True) -> None:
        if not self.active:
            return
        if used:
            self.used[self.index[id(p)]] = 1
        b = self.buckets[self.where[id(p)]]
        b.pending -= 1
        if self.inflight:  # give MPI a chance to progress the all-reduces already started
            self.MPI.Request.Testall(self.inflight)
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            self._launch(self.buckets[self.next_bucket])
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self._finish()

    def _launch(self, b: _Bucket) -> None:
        for p, lo, hi in zip(b.params, b.offsets, b.offsets[1:]):
            if p.grad is None:
                b.flat[lo:hi] = 0
            else:
                b.flat[lo:hi] = p.grad._data.reshape(-1)
        b.request = self.group.comm.Iallreduce(self.MPI.IN_PLACE, b.flat, self.MPI.SUM)
        self.inflight.append(b.request)

    def _finish(self) -> None:
        from ..._tensor import Tensor
        from ...distributed._group import _Watchdog

        self.last_grad_time = time.perf_counter()
        self.hidden_bytes = sum(b.flat.nbytes for b in self.buckets if b.request.Test())
        with _Watchdog.watch("DistributedDataParallel all_reduce", self.group.timeout):
            self.MPI.Request.Waitall(self.inflight)
            if self.find_unused:
                self.group.comm.Allreduce(self.MPI.IN_PLACE, self.used, self.MPI.MAX)
        self.done_time = time.perf_counter()
        n = self.group.size()
        for b in self.buckets:
            np.divide(b.flat, n, out=b.flat)
            for p, lo, hi in zip(b.params, b.offsets, b.offsets[1:]):
                if self.find_unused and not self.used[self.index[id(p)]]:
                    continue  # unused on every rank: .grad stays as it was (None), like torch
                avg = b.flat[lo:hi].reshape(p._data.shape).astype(p._data.dtype, copy=False)
                if p.grad is None:
                    p.grad = Tensor._make(avg.copy())
                else:
                    p.grad._data[...] = avg
                    p.grad._version[0] += 1
        self.active = False

    def remove_hooks(self) -> None:
        for h in self.handles:
            h.remove()


def _leaves_reached(outputs) -> set:
    """ids of the leaf tensors the autograd graph of ``outputs`` reaches."""
    from ..._tensor import Tensor

    stack, seen, leaves = [], set(), set()

    def add(obj):
        if isinstance(obj, Tensor):
            if obj.grad_fn is not None:
                stack.append(obj.grad_fn)
            elif obj.requires_grad:
                leaves.add(id(obj))
        elif isinstance(obj, (list, tuple)):
            for o in obj:
                add(o)
        elif isinstance(obj, dict):
            for o in obj.values():
                add(o)
    add(outputs)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for t in node.inputs:
            if t is None:
                continue
            if t.grad_fn is not None:
                stack.append(t.grad_fn)
            elif t.requires_grad:
                leaves.add(id(t))
    return leaves
