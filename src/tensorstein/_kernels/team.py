"""A team of native worker threads that spin between launches: the cheap way to split a kernel over cores.

Numba's ``prange`` launch costs ~2.5 µs on a 2-core VM (its scheduler, then
GNU OpenMP's fork and join); an element-wise op of 1e5 floats takes ~3-5 µs
of work, so such a launch ate the gain.  Here each worker is a Python thread
that runs :func:`serve`, a Numba loop without the GIL, for good: it spins on
a sequence number and claims chunks of the job published with it.  A launch
(:func:`run`) publishes a job (a C function ``job(block, chunk, n_chunks)``
and the address of its argument block), runs chunk 0 itself, claims what no
worker has claimed yet, and spins until every chunk is done: ~0.4 µs in all.
A worker that is asleep or descheduled delays a launch by nothing: the
caller runs its chunk.

A worker that saw no job for :data:`SPIN_S` seconds sleeps on a futex (no CPU
use); the next launch wakes it (~30-100 µs in a VM, once).  Linux on x86-64
only (futex, ``pause``); :func:`start` says False elsewhere, and callers use
Numba's own threading layer.  The control words live in memory that is never
freed, so workers may outlive the interpreter's teardown.

>>> import numpy as np
>>> from numba import cfunc, types
>>> @cfunc(types.void(types.int64, types.int64, types.int64))
... def note(block, chunk, n_chunks):
...     carray(voidptr(block), (n_chunks,), np.int64)[chunk] = chunk + 1
>>> out = np.zeros(2, np.int64)
>>> if not (start(2) and launch(note.address, out.ctypes.data, 2)):
...     out[:] = [1, 2]
>>> out
array([1, 2])
"""
from __future__ import annotations

import atexit
import ctypes
import os
import platform
import sys
import threading
import time
import zlib

import numpy as np

from llvmlite import ir
from numba import carray, cfunc, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .beside import cached, generated

__all__ = ["carray", "job", "launch", "run", "start", "voidptr", "workers"]

SPIN_S = float(os.environ.get("TENSORSTEIN_SPIN_S", "0.001"))  # a worker spins this long before it sleeps
_SEQ, _FN, _BLOCK, _CHUNKS, _DONE, _SLEEPERS, _STOP, _NEXT, _BUSY = 0, 8, 9, 10, 16, 24, 32, 40, 48  # int64 slots
_LOW31 = 0x7FFFFFFF  # _NEXT holds (job number & _LOW31) << 32 | the next unclaimed chunk
_SYS_FUTEX, _WAIT, _WAKE = 202, 128, 129  # x86-64 syscall number; FUTEX_WAIT / FUTEX_WAKE, process-private
_ctrl = 0  # address of the control words (never freed)
_syscall = 0
_spin = 0
_threads: list = []
_blocks: list = []  # the argument blocks of the jobs made (see job)
_grow = threading.Lock()


def _i64_ptr(builder, addr):
    return builder.inttoptr(addr, ir.IntType(64).as_pointer())


@intrinsic
def _load(typingctx, addr):
    def codegen(context, builder, sig, args):
        return builder.load_atomic(_i64_ptr(builder, args[0]), "acquire", 8)
    return types.int64(addr), codegen


@intrinsic
def _store(typingctx, addr, value):
    def codegen(context, builder, sig, args):
        builder.store_atomic(args[1], _i64_ptr(builder, args[0]), "release", 8)
        return context.get_dummy_value()
    return types.void(addr, value), codegen


@intrinsic
def _add(typingctx, addr, value):
    def codegen(context, builder, sig, args):
        return builder.atomic_rmw("add", _i64_ptr(builder, args[0]), args[1], "seq_cst")
    return types.int64(addr, value), codegen


@intrinsic
def _cas(typingctx, addr, expected, value):
    """Compare-and-swap of the int64 at ``addr``; returns the value found there."""
    def codegen(context, builder, sig, args):
        pair = builder.cmpxchg(_i64_ptr(builder, args[0]), args[1], args[2], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)
    return types.int64(addr, expected, value), codegen


@intrinsic
def _pause(typingctx):
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                            "llvm.x86.sse2.pause")
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def _call_job(typingctx, fn, block, chunk, n_chunks):
    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(ir.VoidType(), [i64, i64, i64])
        builder.call(builder.inttoptr(args[0], fnty.as_pointer()), args[1:])
        return context.get_dummy_value()
    return types.void(fn, block, chunk, n_chunks), codegen


@intrinsic
def _futex(typingctx, syscall, addr, op, value):
    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(i64, [i64] * 7)
        zero = ir.Constant(i64, 0)
        return builder.call(builder.inttoptr(args[0], fnty.as_pointer()),
                            [ir.Constant(i64, _SYS_FUTEX), args[1], args[2], args[3], zero, zero, zero])
    return types.int64(syscall, addr, op, value), codegen


@intrinsic
def voidptr(typingctx, addr):
    """An integer address as a ``void*`` (for ``carray(voidptr(a), shape, dtype)``)."""
    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], ir.IntType(8).as_pointer())
    return types.voidptr(addr), codegen


@njit(nogil=True, cache=True, inline="always")
def _claim(ctrl, job, n_chunks):
    """The next unclaimed chunk of job number ``job`` (claimed now), or -1: all claimed, or another job runs."""
    at = ctrl + _NEXT * 8
    word = _load(at)
    while True:
        if (word >> 32) != (job & _LOW31) or (word & 0xFFFFFFFF) >= n_chunks:
            return -1
        found = _cas(at, word, word + 1)
        if found == word:
            return word & 0xFFFFFFFF
        word = found


@njit(nogil=True, cache=True, inline="always")
def _work(ctrl, job, fn, block, n_chunks):
    """Run chunks of job number ``job`` while any is unclaimed, counting each one done."""
    c = _claim(ctrl, job, n_chunks)
    while c >= 0:
        _call_job(fn, block, c, n_chunks)
        _add(ctrl + _DONE * 8, 1)
        c = _claim(ctrl, job, n_chunks)


@njit(nogil=True, cache=True)
def serve(ctrl, spin, syscall):
    """A worker: claim and run chunks of every published job until told to stop."""
    seq = ctrl + _SEQ * 8
    seen = _load(seq)
    while True:
        now = _load(seq)
        spins = 0
        while now == seen:
            _pause()
            spins += 1
            if spins >= spin:  # idle: sleep until the sequence number moves
                _add(ctrl + _SLEEPERS * 8, 1)
                now = _load(seq)
                if now == seen:
                    _futex(syscall, seq, _WAIT, seen & 0xFFFFFFFF)
                _add(ctrl + _SLEEPERS * 8, -1)
                spins = 0
            now = _load(seq)
        seen = now
        if _load(ctrl + _STOP * 8):
            return
        # read after the sequence number; a claim succeeds only while job ``seen`` still runs, so these are its own
        _work(ctrl, seen, _load(ctrl + _FN * 8), _load(ctrl + _BLOCK * 8), _load(ctrl + _CHUNKS * 8))


@njit(nogil=True, cache=True, inline="always")
def take(ctrl):
    """Whether this thread may launch now (then it calls :func:`give` after :func:`run`): one launcher at a time,
    another one is refused (and takes another path) rather than kept waiting."""
    return _cas(ctrl + _BUSY * 8, 0, 1) == 0


@njit(nogil=True, cache=True, inline="always")
def give(ctrl):
    """The end of a launch :func:`take` allowed."""
    _store(ctrl + _BUSY * 8, 0)


@njit(nogil=True, cache=True, inline="always")
def run(ctrl, fn, block, n_chunks, syscall):
    """Chunks ``0 .. n_chunks - 1`` of ``fn(block, chunk, n_chunks)``: chunk 0 here, the others claimed by
    whoever is free first (a worker running :func:`serve`, or this thread once done with chunk 0, so a worker
    that is asleep or descheduled delays nothing); returns when all are done. One launcher at a time (see
    :func:`take`)."""
    job = _load(ctrl + _SEQ * 8) + 1
    _store(ctrl + _NEXT * 8, ((job & _LOW31) << 32) | 1)  # first: a claim on the previous job fails from now on
    _store(ctrl + _FN * 8, fn)
    _store(ctrl + _BLOCK * 8, block)
    _store(ctrl + _CHUNKS * 8, n_chunks)
    _store(ctrl + _DONE * 8, 0)
    _add(ctrl + _SEQ * 8, 1)  # publishes the job (sequentially consistent: ordered before the next load)
    if n_chunks > 1 and _load(ctrl + _SLEEPERS * 8) > 0:
        _futex(syscall, ctrl + _SEQ * 8, _WAKE, 0x7FFFFFFF)
    _call_job(fn, block, 0, n_chunks)
    _work(ctrl, job, fn, block, n_chunks)
    while _load(ctrl + _DONE * 8) < n_chunks - 1:
        _pause()


@njit(nogil=True, cache=True)
def _run(ctrl, fn, block, n_chunks, syscall):
    run(ctrl, fn, block, n_chunks, syscall)


@njit(nogil=True, cache=True)
def _launch(ctrl, fn, block, n_chunks, syscall):
    if not take(ctrl):
        return False
    run(ctrl, fn, block, n_chunks, syscall)
    give(ctrl)
    return True


@njit(nogil=True, cache=True)
def _spin_rate(n):
    for _ in range(n):
        _pause()


def start(n_threads: int) -> bool:
    """Make sure ``n_threads - 1`` workers run (the caller is the other thread); False where the team cannot
    run here (not Linux on x86-64, or libc's ``syscall`` is not found)."""
    global _ctrl, _syscall, _spin
    if not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")):
        return False
    with _grow:
        if not _ctrl:
            try:
                libc = ctypes.CDLL(None)
                _syscall = ctypes.cast(libc.syscall, ctypes.c_void_p).value or 0
            except (OSError, AttributeError):
                return False
            libc.calloc.restype = ctypes.c_void_p
            _ctrl = libc.calloc(64, 64) or 0  # 64 cache lines, never freed (workers may outlive teardown)
            if not (_ctrl and _syscall):
                return False
            _spin_rate(1)  # loaded before it is timed
            t = time.perf_counter()
            _spin_rate(100_000)
            per_pause = max((time.perf_counter() - t) / 100_000, 1e-9)
            _spin = max(1000, int(SPIN_S / per_pause))
            atexit.register(_stop)
        while len(_threads) < n_threads - 1:
            w = threading.Thread(target=serve, args=(_ctrl, _spin, _syscall),
                                 name=f"tensorstein-team-{len(_threads) + 1}", daemon=True)
            w.start()
            _threads.append(w)
    return True


def workers() -> int:
    """How many workers run."""
    return len(_threads)


def launch(fn: int, block: int, n_chunks: int) -> bool:
    """``fn(block, c, n_chunks)`` for every chunk ``c``, from Python; False (nothing ran) while another thread
    launches (see :func:`take`)."""
    return _launch(_ctrl, fn, block, n_chunks, _syscall)


def _stop() -> None:
    """At exit: workers return from :func:`serve` (without waiting for them)."""
    if _ctrl and _threads:
        ctypes.c_int64.from_address(_ctrl + _STOP * 8).value = 1
        _run(_ctrl, _NOOP.address, 0, 1, _syscall)  # a one-chunk job: moves the sequence number


@cfunc(types.void(types.int64, types.int64, types.int64), nopython=True, cache=True)
def _NOOP(block, chunk, n_chunks):  # noqa: N802 - a C function, named like a constant
    pass


def _spec(args) -> tuple | None:
    """Each argument's kind: ("A", dtype name, ndim) for a C-contiguous array, "b", "i", or ("f", dtype name)."""
    out: list = []
    for a in args:
        if isinstance(a, np.ndarray):
            if not a.flags.c_contiguous or a.ndim == 0:
                return None
            out.append(("A", a.dtype.name, a.ndim))
        elif isinstance(a, (bool, np.bool_)):
            out.append("b")
        elif isinstance(a, (int, np.integer)):
            out.append("i")
        elif isinstance(a, (float, np.floating)):
            out.append(("f", "float32" if isinstance(a, np.float32) else "float64"))
        else:
            return None
    return tuple(out)


def _sources(spec, kind: str, n_arrays: int):
    """The job's and its launcher's source for arguments of kinds ``spec``; and the block's length."""
    unpack, pack, names = [], [], []
    k = 0
    for i, s in enumerate(spec):
        x = f"x{i}"
        names.append(x)
        if s[0] == "A":
            shape = "".join(f"b[{k + 1 + d}], " for d in range(s[2]))
            unpack.append(f"    {x} = carray(voidptr(b[{k}]), ({shape}), np.{s[1]})")
            pack.append(f"    b[{k}] = {x}.ctypes.data")
            pack += [f"    b[{k + 1 + d}] = {x}.shape[{d}]" for d in range(s[2])] if s[2] > 1 else \
                [f"    b[{k + 1}] = {x}.size"]  # a C-contiguous array of any rank passes as its 1-D view
            k += 1 + s[2]
        elif s == "b":
            unpack.append(f"    {x} = b[{k}] != 0")
            pack.append(f"    b[{k}] = 1 if {x} else 0")
            k += 1
        elif s == "i":
            unpack.append(f"    {x} = b[{k}]")
            pack.append(f"    b[{k}] = {x}")
            k += 1
        else:
            unpack.append(f"    {x} = np.{s[1]}(f[{k}])")
            pack.append(f"    f[{k}] = {x}")
            k += 1
    if kind == "slices":
        size, rows = "x0.shape[0]", ""
        call = [f"{x}[lo:hi]" if i < n_arrays else x for i, x in enumerate(names)]
    else:
        size, rows = f"b[{k}]", "n_rows, "
        pack.append(f"    b[{k}] = n_rows")
        k += 1
        call = (["c"] if kind == "indexed" else []) + ["lo", "hi"] + names
    length = max(k, 1)
    job = "\n".join(["def job(block, c, n):",
                     f"    b = carray(voidptr(block), ({length},), np.int64)",
                     f"    f = carray(voidptr(block), ({length},), np.float64)", *unpack,
                     f"    size = {size}", "    lo = c * size // n", "    hi = (c + 1) * size // n",
                     f"    KERNEL({', '.join(call)})", ""])
    go = "\n".join([f"def go(ctrl, fn, block, syscall, n, {rows}{', '.join(names)}):",
                    "    if not take(ctrl):", "        return False",
                    f"    b = carray(voidptr(block), ({length},), np.int64)",
                    f"    f = carray(voidptr(block), ({length},), np.float64)", *pack,
                    "    run(ctrl, fn, block, n, syscall)", "    give(ctrl)", "    return True", ""])
    return job, go, length


with open(__file__, "rb") as _f:
    _SALT = zlib.crc32(_f.read())  # jobs inline run(): a cached one must not outlive an edit of this file


def _compiled(kernel, source: str, label: str, decorate):
    """``decorate`` applied to the function in ``source``, generated beside ``kernel`` (:mod:`.beside`)."""
    namespace = {"np": np, "carray": carray, "voidptr": voidptr, "run": run, "take": take, "give": give,
                 "KERNEL": kernel}
    return decorate(generated(kernel, source, label, namespace, _SALT))


def job(kernel, kind: str, n_arrays: int, args):
    """``(go, job address, block address, arrays)`` for launching ``kernel`` on arguments like ``args`` (``arrays``:
    ``(index, dtype, ndim)`` of each array argument, the pattern the job unpacks); None when an
    argument is of a kind the block cannot carry (a non-contiguous array, a 0-d array, an object).

    ``go(ctrl, fn, block, syscall, n_chunks, [n_rows,] *args)`` packs the arguments into ``block``
    and runs the job: ``kernel(*[a[lo:hi] ...], *params)`` (kind "slices"), ``kernel(lo, hi, *args)``
    ("rows") or ``kernel(c, lo, hi, *args)`` ("indexed") on chunk ``c``'s range. Where the job takes a 1-D
    array, ``go`` (compiled for that) may be given a C-contiguous array of any rank: its 1-D view runs."""
    spec = _spec(args)
    if spec is None:
        return None
    job_source, go_source, length = _sources(spec, kind, n_arrays)
    keep = cached(kernel)
    c_job = _compiled(kernel, job_source, "job", cfunc(types.void(types.int64, types.int64, types.int64),
                                                      nopython=True, cache=keep, error_model="numpy"))
    go = _compiled(kernel, go_source, "go", njit(nogil=True, cache=keep, error_model="numpy"))
    arrays = tuple((i, args[i].dtype, args[i].ndim) for i, s in enumerate(spec) if s[0] == "A")
    block = np.zeros(length, np.int64)
    _blocks.append(block)  # kept for good: go gets its address
    return go, c_job.address, block.ctypes.data, arrays
