"""Numba kernels split over all cores by a native thread team.

:mod:`.parallel`'s pool runs Python callables: each task needs the GIL, so a
wake-up costs ~10-20 µs.  A Numba kernel can instead run on native threads:

* on :mod:`.team`'s workers (Linux on x86-64): ~0.4 µs per launch.  For each
  kernel and argument pattern a job is made once (a C function unpacking the
  arguments from a block, and a launcher packing them), cached beside the
  kernel;
* else in a ``prange`` variant of the kernel on Numba's threading layer
  (OpenMP or TBB): ~2.5 µs per launch.  The variant is generated once per
  kernel from a template and Numba caches it beside the kernel (same source
  file, name ``<kernel>_par_<kind>...``), so edits of the kernel invalidate it.

:func:`launch` ``(kernel, n_chunks, arrays, params)`` runs
``kernel(a0[lo:hi], a1[lo:hi], ..., p0, ...)`` over ``n_chunks`` near-equal
slices of axis 0 of ``a0``; :func:`launch_new` does the same for same-shape
inputs of any rank and a new output it returns, through the launcher's
compiled entry point (the element-wise ops' path: ~2 µs less per op);
:func:`launch_rows` runs row kernels (``kernel(r0, r1, *args)``, or
``kernel(chunk, r0, r1, *args)``) over row ranges.  The team also runs large
matrix products (:mod:`.blas`).

The launchers return False, having run nothing, where the team cannot be used:

* when neither the team nor a thread-safe Numba threading layer starts
  (the ``workqueue`` fallback aborts on concurrent launches), or
* in a child process forked after the team started (its workers are not
  there; GNU OpenMP is not fork-safe either), or
* inside a task of :mod:`.parallel`'s pool (no nested teams), or
* on the team, for arguments unlike the job's pattern (say a strided array)
  or while another thread launches.

Callers then use :mod:`.parallel`'s pool or the serial kernel.  A kernel that
is not a Numba dispatcher also gets False.

>>> import numpy as np
>>> from numba import njit
>>> @njit(nogil=True)
... def twice(x, out):
...     for i in range(x.shape[0]):
...         out[i] = 2 * x[i]
>>> x = np.arange(6.0); out = np.empty_like(x)
>>> if not launch(twice, 2, (x, out)):
...     twice(x, out)
>>> out
array([ 0.,  2.,  4.,  6.,  8., 10.])
"""
from __future__ import annotations

import contextlib
import functools
import os
import threading
import time

from numpy import empty_like as _empty_like
from numpy import ndarray as _ndarray

from . import parallel
from .beside import cached, generated
from .lazy import kernels

__all__ = ["launch", "launch_new", "launch_rows", "mark", "owns_blas", "warm"]

SPIN_COUNT = int(os.environ.get("TENSORSTEIN_SPIN_COUNT", "1000"))  # see _spin: ~10-30 µs of spinning
BLAS_SPIN_COUNT = int(os.environ.get("TENSORSTEIN_BLAS_SPIN_COUNT", "30000"))  # see _spin: the team runs BLAS
WARM_S = 5e-6  # see warm()
_last_end = 0.0
_state: bool | None = None  # None: not tried yet; True: usable; False: unavailable in this process
_owns_blas = False  # the team runs large matrix products (BLAS itself at one thread): see .blas
_team = None  # the module .team when its workers serve the launches (else Numba's prange variants do)
_jobs: dict = {}  # (kernel, kind, argument count, first dtype) -> team.job(...) or False
_job_calls: dict = {}  # the same keys -> the job's launcher through its compiled entry (see _on_team)
_new_calls: dict = {}  # (kernel, params, dtype, rank) -> launch_new's compiled call (see _new_call)
_variants: dict = {}
_ready_variants: dict = {}  # (kernel, kind, argument count, first dtype) -> its variant, the kernel loaded first
_tls = threading.local()  # .numba_threads: the team size Numba was last given on this thread
_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _state, _tls, _ready_variants, _owns_blas
    _tls, _ready_variants, _owns_blas = threading.local(), {}, False
    _jobs.clear()  # the parent's team does not run here: no job is made again (see _new_job)
    _job_calls.clear()
    _new_calls.clear()
    if _state is not None:  # the team may have started in the parent: never touch it here
        _state = False


os.register_at_fork(after_in_child=_after_fork_in_child)


def _template(n_arrays: int, n_params: int, kind: str) -> str:
    """The variant's source: ``kind`` "slices" (arrays sliced), "rows" (``lo, hi`` first) or "indexed"
    (``c, lo, hi`` first: the chunk's index, e.g. for per-chunk partial results)."""
    arrays = [f"a{i}" for i in range(n_arrays)]
    params = [f"p{i}" for i in range(n_params)]
    if kind == "slices":
        head, size = arrays + params, "a0.shape[0]"
        call = ", ".join([f"{a}[lo:hi]" for a in arrays] + params)
    else:  # every argument passes whole, the row range splits
        head, size = ["n"] + params, "n"
        call = ", ".join((["c"] if kind == "indexed" else []) + ["lo", "hi"] + params)
    return (f"def variant(n_chunks, {', '.join(head)}):\n"
            f"    size = {size}\n"
            f"    for c in prange(n_chunks):\n"
            f"        lo = c * size // n_chunks\n"
            f"        hi = (c + 1) * size // n_chunks\n"
            f"        KERNEL({call})\n")


def _variant(kernel, n_arrays: int, n_params: int, kind: str):
    key = (kernel, n_arrays, n_params, kind)
    v = _variants.get(key)
    if v is None:
        from numba import njit, prange

        fn = generated(kernel, _template(n_arrays, n_params, kind), f"par_{kind}{n_arrays}_{n_params}",
                       {"prange": prange, "KERNEL": kernel})
        same = {k: kernel.targetoptions[k] for k in ("fastmath", "error_model", "boundscheck")
                if k in kernel.targetoptions}  # the variant compiles as its kernel does
        v = njit(parallel=True, nogil=True, cache=cached(kernel), **same)(fn)  # cached beside a cached kernel
        _variants[key] = v
    return v


@contextlib.contextmanager
def _spin(count: int):
    """GNU OpenMP reads its environment when it loads: unless the user chose a wait policy, its idle threads
    spin for ``count`` polls before they sleep, not its default ~300,000 (milliseconds).

    When NumPy's OpenBLAS keeps threads of its own, a spinning team thread holds a core that they need for
    the matmul that usually follows an element-wise op (with two cores that stalls every such matmul for a
    scheduler slice): the team then spins SPIN_COUNT polls (~10-30 µs).  When the team runs the products
    itself (:mod:`.blas`) no other pool needs the cores: it spins BLAS_SPIN_COUNT polls (~0.3-1 ms), so an op
    stream keeps it awake."""
    keys = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
    if any(k in os.environ for k in keys):
        yield
        return
    os.environ["GOMP_SPINCOUNT"] = str(count)
    try:
        yield
    finally:
        os.environ.pop("GOMP_SPINCOUNT", None)  # not passed on to child processes


def _start() -> bool:
    """Start the team (:mod:`.team`), or else load a thread-safe Numba threading layer (unless the user chose
    one), before the first launch."""
    global _state, _owns_blas, _team
    if parallel.in_pool_task():  # not from a pool task, which may run inside a blas_threads block: later
        return False
    with _lock:
        if _state is None:
            take_blas = os.environ.get("TENSORSTEIN_TEAM_BLAS", "1") != "0" and bool(parallel.gemm_symbols())
            if os.environ.get("TENSORSTEIN_FAST_TEAM", "1") != "0" and kernels("team").start(
                    parallel.get_num_threads()):
                _team, _state = kernels("team"), True
            else:
                _start_numba_layer(take_blas)
            if _state and take_blas:
                parallel.hand_blas_to_team()
                _owns_blas = True
    return _state


def _start_numba_layer(take_blas: bool) -> None:
    """Numba's own threading layer (OpenMP or TBB) for the prange variants, where the team cannot run."""
    global _state
    try:
        import numba
        from numba.np.ufunc.parallel import _launch_threads

        if not os.environ.get("NUMBA_THREADING_LAYER"):
            numba.config.THREADING_LAYER = "threadsafe"
        with _spin(BLAS_SPIN_COUNT if take_blas else SPIN_COUNT):
            _launch_threads()
        _state = numba.threading_layer() in ("omp", "tbb")
    except (ImportError, ValueError):  # no thread-safe layer loads here
        _state = False


def owns_blas() -> bool:
    """Whether the team runs large matrix products (starting it if need be; False in a forked child)."""
    if _state is None:
        _start()
    return _owns_blas


def _ready(kernel, kind: str, n_arrays: int, args):
    """The variant of ``kernel`` for these arguments, or None where the team cannot run it.

    Looked up by the kernel, its argument count and its first argument's dtype (each caller passes one
    argument pattern per dtype).  A variant loaded from Numba's cache while its kernel is not yet loaded
    rounds some results differently (seen on softmax rows: last-bit differences); so on the first lookup
    ``kernel`` itself is loaded first, with an empty call, and parallel results equal serial ones bit for bit."""
    key = (kernel, kind, len(args), getattr(args[0], "dtype", None))
    v = _ready_variants.get(key)
    if v is None:
        if _state is False or not hasattr(kernel, "py_func") or (_state is None and not _start()):
            return None
        _prime(kernel, kind, n_arrays, args)
        v = _ready_variants[key] = _variant(kernel, n_arrays, len(args) - n_arrays, kind)
    return v


def _prime(kernel, kind: str, n_arrays: int, args) -> None:
    """Load ``kernel`` with an empty call before a variant or job that calls it loads (see :func:`_ready`)."""
    if kind == "slices":
        kernel(*[a[:0] for a in args[:n_arrays]], *args[n_arrays:])
    else:
        kernel(*((0,) if kind == "indexed" else ()), 0, 0, *args)


def _threads() -> int:
    """The pool's width, given to Numba for this thread (0 when the team must not be used here)."""
    n = parallel.get_num_threads()
    if _team is not None:
        if n - 1 > _team.workers():
            _team.start(n)
        return 0 if parallel.in_pool_task() else n
    tls = _tls.__dict__
    if tls.get("numba_threads") != n:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        tls["numba_threads"] = n
    return 0 if parallel.in_pool_task() else n


def warm(team: bool = True) -> bool:
    """Whether mid-size work should wake threads: on the team (``team``) always when the team runs BLAS (no
    other pool competes for the cores, its threads spin between ops); otherwise when the last mid-size op
    ended a moment ago (see :func:`mark`): the threads still spin from it (a team launch costs ~1 µs), or ops
    come in a stream that pays for waking them (a wake-up costs ~5 µs on bare metal, ~30 µs in a VM)."""
    return (team and (_owns_blas or owns_blas())) or time.perf_counter() - _last_end < WARM_S


def mark() -> None:
    """Note the end of a mid-size op (run on the team or not)."""
    global _last_end
    _last_end = time.perf_counter()


def launch(kernel, n_chunks: int, arrays, params=()) -> bool:
    """``kernel(*[a[lo:hi] for a in arrays], *params)`` over ``n_chunks`` slices of axis 0 of ``arrays``.

    Returns False (nothing ran) when the team cannot run it: take another path then."""
    args = (*arrays, *params)
    if _team_serves():
        return _on_team(kernel, "slices", len(arrays), n_chunks, (), args)
    v = _ready(kernel, "slices", len(arrays), args)
    if v is None or not _threads():
        return False
    v(n_chunks, *args)
    return True


def launch_rows(kernel, n_chunks: int, n_rows: int, args, indexed: bool = False) -> bool:
    """``kernel(r0, r1, *args)`` over ``n_chunks`` near-equal row ranges of ``range(n_rows)``
    (``indexed``: ``kernel(chunk, r0, r1, *args)``); False when the team cannot run it."""
    kind = "indexed" if indexed else "rows"
    if _team_serves():
        return _on_team(kernel, kind, 0, n_chunks, (n_rows,), args)
    v = _ready(kernel, kind, 0, args)
    if v is None or not _threads():
        return False
    v(n_chunks, n_rows, *args)
    return True


def _new_job(kernel, kind: str, n_arrays: int, args):
    """The team's job for ``kernel`` on arguments like ``args`` (see :func:`_on_team`), cached; False (cached)
    where the arguments have none; None (not cached) where it cannot be made now, say in a pool task."""
    if _state is not True or not hasattr(kernel, "py_func") or not _threads():
        return None
    _prime(kernel, kind, n_arrays, args)
    job = _jobs[kernel, kind, len(args), getattr(args[0], "dtype", None)] = \
        _team.job(kernel, kind, n_arrays, args) or False
    return job


def _refused(n_chunks: int) -> bool:
    """Whether the running team cannot take a launch of ``n_chunks`` from this thread (a pool task; more chunks
    than threads that cannot be started here)."""
    return parallel.in_pool_task() or (n_chunks > len(_team._threads) + 1 and not _threads())


def launch_new(kernel, n_chunks: int, inputs, params=()):
    """A new output ``out`` like ``inputs[0]``, filled by ``kernel(*[a.ravel()[lo:hi] for a in inputs],
    out.ravel()[lo:hi], *params)`` over ``n_chunks`` slices; None (nothing ran) where the team cannot run it.

    ``inputs``: C-contiguous arrays of one shape and one dtype, float32 or float64 (the caller checks: the
    team does not); ``params``: as every other call of ``kernel`` passes them, except that a Python float
    may stand for a scalar of the inputs' dtype (the kernel gets it rounded to that dtype, as from
    ``dtype.type(p)``). The job's launcher is called through its compiled entry point for arrays of this
    rank: no reshapes, no type dispatch (~2 µs less than :func:`launch` on flat views). Marks the op's end
    (:func:`mark`) when it ran."""
    global _last_end
    a0 = inputs[0]
    run = _new_calls.get((kernel, len(params), a0.dtype, a0.ndim))  # (a kernel's arity is fixed)
    if run is None:
        run = _new_call(kernel, inputs, params)
    if not run or _refused(n_chunks):
        return None
    out = _empty_like(a0)
    if not run(n_chunks, *inputs, out, *params):  # another thread launches
        return None
    _last_end = time.perf_counter()  # as mark(): the team's threads spin from now
    return out


def _new_call(kernel, inputs, params):
    """The slices job's launcher for ``inputs`` and an output of their rank, through its compiled entry point,
    its first arguments bound (it takes the chunk count, then the arrays and params); False (cached) where the
    kernel's job does not take 1-D arrays of one dtype only; None (not cached) where no job can be made now."""
    if _team is None and not _team_serves():
        return None
    key = (kernel, len(params), inputs[0].dtype, inputs[0].ndim)
    if not hasattr(kernel, "py_func"):  # a Python callable (a ufunc): the pool runs it
        _new_calls[key] = False
        return False
    flat = [a.reshape(-1)[:0] for a in inputs]
    n_arrays = len(inputs) + 1
    to_dtype = inputs[0].dtype.type
    args = (*flat, flat[0], *[to_dtype(p) if type(p) is float else p for p in params])  # the job's pattern
    job = _jobs.get((kernel, "slices", len(args), inputs[0].dtype))
    if job is None:
        job = _new_job(kernel, "slices", n_arrays, args)
        if job is None:
            return None
    call = False
    if job and job[3] == tuple((i, inputs[0].dtype, 1) for i in range(n_arrays)):
        go, fn, block, _ = job
        head = (_team._ctrl, fn, block, _team._syscall)
        example = (*head, 1, *inputs, inputs[0], *params)
        call = functools.partial(go.compile(tuple(go.typeof_pyval(a) for a in example)), *head)
    _new_calls[key] = call
    return call


def _team_serves() -> bool:
    """Whether :mod:`.team` serves the launches (starting it, or Numba's layer, on the first launch)."""
    if _state is None:
        _start()
    return _team is not None


def _on_team(kernel, kind: str, n_arrays: int, n_chunks: int, rows: tuple, args) -> bool:
    """Run ``kernel`` on :mod:`.team`'s workers (its job made once per kernel and argument pattern, as
    :func:`_ready` makes variants); False, having run nothing, where it cannot."""
    key = (kernel, kind, len(args), getattr(args[0], "dtype", None))
    entry = _jobs.get(key)
    if entry is None:
        entry = _new_job(kernel, kind, n_arrays, args)
    if not entry or _refused(n_chunks):
        return False
    go, fn, block, arrays = entry
    for i, dtype, ndim in arrays:  # the pattern the job unpacks: C-contiguous arrays of these dtypes and ranks
        a = args[i]
        if not (type(a) is _ndarray and a.dtype is dtype and a.ndim == ndim and a.flags.c_contiguous):
            return False
    run = _job_calls.get(key)
    if run is not None:
        return run(n_chunks, *rows, *args)  # False: another thread launches
    ran = go(_team._ctrl, fn, block, _team._syscall, n_chunks, *rows, *args)
    if len(go.overloads) == 1:  # its one compiled entry from now on: no type dispatch (the arrays are checked
        # above; a scalar is packed as the job's type whatever its Python type)
        _job_calls[key] = functools.partial(next(iter(go.overloads.values())).entry_point, _team._ctrl, fn, block,
                                            _team._syscall)
    return ran
