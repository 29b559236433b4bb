"""The thread pool of tensorstein and its width.

Persistent daemon worker threads (created on first use, never per call) run
Python callables; the work is useful when the callables release the GIL
(Numba ``nogil`` kernels, NumPy ufuncs and BLAS calls on large arrays).
Element-wise and row kernels of Numba take a cheaper road to the same cores,
a native team (:mod:`.native_parallel`); its width is this module's too.

* :func:`get_num_threads` / :func:`set_num_threads`: the pool's width, the
  calling thread included.  ``set_num_threads`` also sets BLAS's thread count
  (threadpoolctl); this is the only place in the package that does.  The
  default is the number of CPUs this process may run on (its affinity mask),
  or ``TENSORSTEIN_NUM_THREADS`` / ``OMP_NUM_THREADS`` when set.
* :func:`parallel_for` ``(fn, n_tasks)``: ``fn(i)`` for every ``i`` in
  ``range(n_tasks)``; participants pull indices in increasing order from a
  shared counter (dynamic scheduling: put the longest tasks first).
* :func:`parallel_chunks` ``(fn, n, min_chunk)``: ``fn(start, stop)`` over at
  most ``get_num_threads()`` contiguous, near-equal chunks of ``range(n)``.
* :func:`blas_threads` ``(n)``: a context manager limiting BLAS to ``n``
  threads (use ``1`` around BLAS calls made from pool tasks).
* :func:`gemm_symbols` / :func:`hand_blas_to_team`: NumPy's OpenBLAS
  ``cblas_?gemm`` entry points, and BLAS at one thread from then on (the
  native team runs large products, :mod:`.blas`).

Behaviour, exactly:

* The calling thread runs tasks too and the call returns once every task has
  finished.  If the caller has run every task before a worker woke up, it
  returns at once (the late worker then finds no task left).
* Runs inline (plain loop in the caller, no thread involved) when there is one
  task, the width is 1, the caller is a pool worker or is already inside a
  ``parallel_for`` (nested calls never deadlock), or another thread is using
  the pool at that moment (concurrent callers do not queue up or
  oversubscribe: the second one runs its work serially).
* Exceptions: the first one raised (in time) is re-raised in the caller after
  every started task has finished; tasks not yet started when it was raised
  are skipped.
* After ``os.fork`` the child starts with a fresh, empty pool.

Example::

    >>> out = [0] * 4
    >>> parallel_for(lambda i: out.__setitem__(i, i * i), 4)
    >>> out
    [0, 1, 4, 9]
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import os
import threading
from collections.abc import Callable
from queue import SimpleQueue

__all__ = ["blas_threads", "gemm_symbols", "get_num_threads", "hand_blas_to_team", "in_pool_task", "parallel_chunks",
           "parallel_for", "set_num_threads"]

class _Local(threading.local):
    inside = False  # this thread is a worker or inside parallel_for (a class default: a missing attribute's
    # getattr costs ~0.3 µs, and every launch asks)


_tls = _Local()
_busy = threading.Lock()  # held by the thread currently driving the pool
_grow = threading.Lock()
_inboxes: list[SimpleQueue] = []  # one per worker thread
_nthreads: int | None = None
_blas_limit = None  # the threadpoolctl limiter set by set_num_threads (kept alive)
_controller = None
_blas_on_team = False  # set by hand_blas_to_team: BLAS itself runs at one thread
_gemm_symbols: dict | None = None


def _default_threads() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    for var in ("TENSORSTEIN_NUM_THREADS", "OMP_NUM_THREADS"):
        try:
            return max(1, int(os.environ[var]))
        except (KeyError, ValueError):
            pass
    return max(1, n)


def get_num_threads() -> int:
    """Number of threads parallel work uses (the caller included).

    >>> get_num_threads() >= 1
    True
    """
    global _nthreads
    if _nthreads is None:
        _nthreads = _default_threads()
    return _nthreads


def set_num_threads(n: int) -> None:
    """Set the pool's width and BLAS's thread count to ``n`` (>= 1).

    >>> set_num_threads(get_num_threads())
    """
    global _nthreads, _blas_limit, _controller
    if isinstance(n, float):
        raise RuntimeError("set_num_threads expects an int, but got float")  # noqa: TRY004 - torch's type
    try:
        n = operator.index(n)
    except TypeError:
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}") from None
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _nthreads = n
    _controller = None  # rescan: Numba can load a BLAS of its own after the first scan
    _limit_blas()


def _limit_blas() -> None:
    global _blas_limit
    try:
        _blas_limit = _blas_controller().limit(limits=1 if _blas_on_team else get_num_threads(), user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass


def gemm_symbols() -> dict:
    """``{dtype: (address, lp64)}`` of ``cblas_sgemm`` / ``cblas_dgemm`` in the OpenBLAS NumPy loaded
    (``lp64``: 32-bit ints), or ``{}`` where there is no such library (NumPy on MKL, say).

    >>> sorted(str(k) for k in gemm_symbols()) in ([], ["float32", "float64"])
    True
    """
    global _gemm_symbols
    if _gemm_symbols is None:
        found = {}
        try:
            import ctypes

            import numpy as np

            libs = [lib for lib in _blas_controller().lib_controllers
                    if lib.internal_api == "openblas" and "numpy" in lib.filepath]
            dll = ctypes.CDLL(libs[0].filepath) if libs else None
            for letter, dtype in (("s", np.float32), ("d", np.float64)):
                for name in (f"scipy_cblas_{letter}gemm64_", f"cblas_{letter}gemm64_", f"scipy_cblas_{letter}gemm",
                             f"cblas_{letter}gemm"):
                    fn = getattr(dll, name, None) if dll is not None else None
                    if fn is not None:
                        found[np.dtype(dtype)] = (ctypes.cast(fn, ctypes.c_void_p).value, not name.endswith("64_"))
                        break
        except (ImportError, OSError):  # no threadpoolctl, or the library does not load: products stay with NumPy
            found = {}
        _gemm_symbols = found if len(found) == 2 else {}
    return _gemm_symbols


def hand_blas_to_team() -> None:
    """From now on BLAS runs at one thread: the native team splits large products (:mod:`.blas`)."""
    global _blas_on_team
    _blas_on_team = True
    _limit_blas()


def _blas_controller():
    """A cached ``threadpoolctl.ThreadpoolController`` (scanning libraries is slow)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


def blas_threads(n: int):
    """Context manager: BLAS uses at most ``n`` threads inside the block.  Once the native team runs BLAS,
    BLAS stays at one thread (a no-op block): OpenBLAS's own threads, once used, spin for ~60 ms after a product
    (its thread timeout) on the cores the team needs, and every team launch after it ran on one core.

    >>> with blas_threads(1):
    ...     pass
    """
    if _blas_on_team:  # BLAS already runs at one thread, and must stay there
        return contextlib.nullcontext()
    return _blas_controller().limit(limits=n, user_api="blas")


# ------------------------------------------------------------------ the pool
class _Job:
    __slots__ = ("counter", "done", "error", "fn", "n")

    def __init__(self, fn, n):
        self.fn = fn
        self.n = n
        self.counter = itertools.count()  # next() is atomic under the GIL
        self.done: SimpleQueue = SimpleQueue()  # one (n_run, failed) token per participant
        self.error: BaseException | None = None

    def run(self) -> int:
        """Pull and run tasks until none is left (or one failed); returns how many ran."""
        fn, n, counter = self.fn, self.n, self.counter
        k = 0
        try:
            while self.error is None:
                i = next(counter)
                if i >= n:
                    break
                fn(i)
                k += 1
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            if self.error is None:
                self.error = e
            return -1
        return k


def _worker(inbox: SimpleQueue) -> None:
    _tls.inside = True
    while True:
        job = inbox.get()
        job.done.put(job.run())


def _ensure_workers(n: int) -> None:
    with _grow:
        while len(_inboxes) < n:
            inbox: SimpleQueue = SimpleQueue()
            t = threading.Thread(target=_worker, args=(inbox,), daemon=True,
                                 name=f"tensorstein-{len(_inboxes) + 1}")
            t.start()
            _inboxes.append(inbox)


def _after_fork_in_child() -> None:
    global _busy, _grow, _inboxes, _tls
    _busy, _grow, _inboxes, _tls = threading.Lock(), threading.Lock(), [], _Local()


os.register_at_fork(after_in_child=_after_fork_in_child)


def in_pool_task() -> bool:
    """Whether this thread is a pool worker or inside :func:`parallel_for` (nested work runs inline).

    >>> in_pool_task()
    False
    """
    return _tls.inside


def _inline(fn: Callable[[int], None], n_tasks: int) -> None:
    for i in range(n_tasks):
        fn(i)


def parallel_for(fn: Callable[[int], None], n_tasks: int) -> None:
    """Run ``fn(i)`` for every ``i`` in ``range(n_tasks)`` on the pool.

    >>> hits = []
    >>> parallel_for(hits.append, 3)
    >>> sorted(hits)
    [0, 1, 2]
    """
    width = min(get_num_threads(), n_tasks)
    if width <= 1 or _tls.inside or not _busy.acquire(blocking=False):
        _inline(fn, n_tasks)
        return
    try:
        _tls.inside = True
        _ensure_workers(width - 1)
        job = _Job(fn, n_tasks)
        for inbox in _inboxes[: width - 1]:
            inbox.put(job)
        k = job.run()
        total = max(k, 0)
        pending = width - 1  # worker tokens not yet received
        while pending and (total < n_tasks or job.error is not None or k < 0):
            r = job.done.get()
            pending -= 1
            total += max(r, 0)
        if job.error is not None:
            raise job.error
    finally:
        _tls.inside = False
        _busy.release()


def parallel_chunks(fn: Callable[[int, int], None], n: int, min_chunk: int) -> None:
    """Call ``fn(start, stop)`` over contiguous chunks covering ``range(n)``.

    At most ``get_num_threads()`` chunks of at least ``min_chunk`` items
    (sizes differ by at most one); one chunk runs inline.

    >>> seen = []
    >>> parallel_chunks(lambda a, b: seen.append((a, b)), 10, 100)
    >>> seen
    [(0, 10)]
    """
    if n <= 0:
        return
    chunks = max(1, min(get_num_threads(), n // max(1, min_chunk)))
    if chunks == 1:
        fn(0, n)
        return
    q, r = divmod(n, chunks)
    bounds = [i * q + min(i, r) for i in range(chunks + 1)]
    parallel_for(lambda i: fn(bounds[i], bounds[i + 1]), chunks)
