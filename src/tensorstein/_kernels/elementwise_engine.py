"""Chunked, multi-threaded dispatch of element-wise and row kernels.

Large operands are split into contiguous chunks, one per thread: a Numba
kernel runs on the native team (:mod:`.native_parallel`, ~1 µs per launch),
any other callable (a NumPy ufunc) on the package's thread pool
(``parallel.parallel_chunks``).  Below :data:`PARALLEL_MIN` elements the
kernel is called directly (no dispatch cost on small tensors); below
:data:`COLD_MIN` it is split only while threads are awake
(:func:`native_parallel.warm`: always on a team that runs BLAS).  float16 / bfloat16 operands compute in float32.

>>> import numpy as np
>>> map_unary(lambda a, o: np.negative(a, out=o), np.ones(3, np.float32))
array([-1., -1., -1.], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from . import native_parallel
from .lazy import LIGHT, PARALLEL_MIN, REDUCE_MIN, STREAMS
from .parallel import get_num_threads, parallel_chunks, parallel_for

__all__ = ["LIGHT", "MIN_CHUNK", "PARALLEL_MIN", "READ_CHUNK", "STREAMS", "as_compute", "get_num_threads", "grain",
           "map_nary", "map_rows", "map_rows_indexed", "map_sliced", "map_unary", "row_chunks", "split_min",
           "split_new"]

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
MIN_CHUNK = 16384  # smallest chunk handed to a worker
COLD_MIN = 1 << 19  # elements: work that pays for waking the team's sleeping threads (~30 µs in a VM)
READ_CHUNK = REDUCE_MIN // 2  # elements: reductions only read (see lazy.py for these and LIGHT, STREAMS)
_GRAIN: dict = {}  # kernel -> its factor of MIN_CHUNK (see grain)


def as_compute(x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous float32/float64 array (half types widen to float32)."""
    if x.dtype != np.float32 and x.dtype != np.float64:
        x = x.astype(np.float32)
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)  # (ascontiguousarray makes 0-d 1-d)


def map_nary(kernel, arrays, *params, out=None):
    """``kernel(*flat_inputs, flat_out, *params)`` over same-shape arrays, chunked.

    The result has the dtype of ``arrays[0]`` (computed in float32 for half types)."""
    dtype = arrays[0].dtype
    if out is None and (dtype is _F32 or dtype is _F64) and _same_plain(arrays, dtype):
        if arrays[0].size >= PARALLEL_MIN and (o := split_new(kernel, arrays, params)) is not None:
            return o
        xs, o = arrays, np.empty_like(arrays[0])  # the common case: no copies
    else:
        xs = [as_compute(a) for a in arrays]
        ct = xs[0].dtype
        xs = [a if a.dtype == ct else a.astype(ct) for a in xs]
        o = np.empty(xs[0].shape, ct) if out is None or out.dtype != ct or not out.flags.c_contiguous else out
    flat = [a.reshape(-1) for a in xs]
    flat.append(o.reshape(-1))
    if o.size < PARALLEL_MIN:
        kernel(*flat, *params)
    else:
        map_sliced(kernel, flat, params, MIN_CHUNK)
    if out is not None and o is not out:
        out[...] = o
        return out
    return o if o.dtype is dtype else o.astype(dtype)


def split_new(kernel, arrays, params=()):
    """The new output of ``kernel(*flat_inputs, flat_out, *params)`` over same-shape C-contiguous ``arrays`` of
    one float dtype, split over the team (:func:`native_parallel.launch_new`); None where the work does not
    split or the team cannot run it (then :func:`map_nary` serves)."""
    n = arrays[0].size
    k = min(get_num_threads(), n // (MIN_CHUNK * _GRAIN.get(kernel, 1)))  # _chunks inlined: every split op's path
    if k <= 1 or n < COLD_MIN and not native_parallel.warm():
        return None
    return native_parallel.launch_new(kernel, k, arrays, params)


def _same_plain(arrays, dtype) -> bool:
    """Every array C-contiguous and of ``dtype`` (identity checks: ``dtype ==`` costs ~0.1 µs a time)."""
    for a in arrays:
        if a.dtype is not dtype or not a.flags.c_contiguous:
            return False
    return True


def map_unary(kernel, x: np.ndarray, *params, out=None) -> np.ndarray:
    """``kernel(flat_x, flat_out, *params)`` over ``x``, chunked over the pool."""
    dt = x.dtype
    if out is None and (dt is _F32 or dt is _F64) and x.flags.c_contiguous:
        if x.size >= PARALLEL_MIN and (o := split_new(kernel, (x,), params)) is not None:
            return o
        o = np.empty_like(x)  # the common case: no copies
        xf = x.reshape(-1)
        of = o.reshape(-1)
        if xf.shape[0] < PARALLEL_MIN:
            kernel(xf, of, *params)
        else:
            map_sliced(kernel, (xf, of), params, MIN_CHUNK)
        return o
    return map_nary(kernel, (x,), *params, out=out)


def grain(factor: int, *kernels) -> None:
    """Split ``kernels`` only in chunks ``factor`` times the usual size (:data:`LIGHT`, :data:`STREAMS`).

    >>> grain(3, print); _GRAIN.pop(print)
    3
    """
    for k in kernels:
        _GRAIN[k] = factor


def split_min(kernel) -> int:
    """Elements from which work of ``kernel`` splits over threads: PARALLEL_MIN times its :func:`grain`.

    >>> split_min(print) == PARALLEL_MIN
    True
    """
    return PARALLEL_MIN * _GRAIN.get(kernel, 1)


def map_sliced(kernel, arrays, params=(), min_chunk: int = MIN_CHUNK) -> None:
    """``kernel(*[a[lo:hi] for a in arrays], *params)`` over slices of axis 0, one per thread.

    No slice is shorter than ``min_chunk`` (times the kernel's :func:`grain`; one slice: the plain call)."""
    min_chunk *= _GRAIN.get(kernel, 1)
    n = arrays[0].shape[0]
    size = arrays[0].size
    chunks = _chunks(n, min_chunk, size, hasattr(kernel, "py_func"))
    if chunks == 1:
        kernel(*arrays, *params)
    elif not native_parallel.launch(kernel, chunks, arrays, params):
        parallel_chunks(lambda a, b: kernel(*[f[a:b] for f in arrays], *params), n, min_chunk)
    if size >= PARALLEL_MIN:
        native_parallel.mark()


def map_rows(kernel, n_rows: int, row_len: int, *args):
    """``kernel(r0, r1, *args)`` over row ranges, parallel when the work is large."""
    min_rows = max(1, MIN_CHUNK * _GRAIN.get(kernel, 1) // max(1, row_len))
    size = n_rows * row_len
    chunks = _chunks(n_rows, min_rows, size, hasattr(kernel, "py_func")) if size >= PARALLEL_MIN else 1
    if chunks == 1:
        kernel(0, n_rows, *args)
    elif not native_parallel.launch_rows(kernel, chunks, n_rows, args):
        parallel_chunks(lambda a, b: kernel(a, b, *args), n_rows, min_rows)
    if size >= PARALLEL_MIN:
        native_parallel.mark()


def row_chunks(n_rows: int, row_len: int, min_chunk: int = MIN_CHUNK) -> int:
    """How many chunks :func:`map_rows_indexed` splits ``n_rows`` rows of ``row_len`` items into, none
    under ``min_chunk`` items."""
    if n_rows * row_len < PARALLEL_MIN:
        return 1
    return _chunks(n_rows, max(1, min_chunk // max(1, row_len)), n_rows * row_len)


def map_rows_indexed(kernel, n_chunks: int, n_rows: int, *args) -> None:
    """``kernel(chunk, r0, r1, *args)`` for each of ``n_chunks`` near-equal row ranges (from
    :func:`row_chunks`): each chunk can write its own partial result."""
    if n_chunks == 1:
        kernel(0, 0, n_rows, *args)
    elif not native_parallel.launch_rows(kernel, n_chunks, n_rows, args, indexed=True):
        bounds = [c * n_rows // n_chunks for c in range(n_chunks + 1)]
        parallel_for(lambda c: kernel(c, bounds[c], bounds[c + 1], *args), n_chunks)
    native_parallel.mark()


def _chunks(n: int, min_chunk: int, size: int, team: bool = True) -> int:
    """How many chunks ``n`` items (``size`` elements of work) split into: one per thread, none under
    ``min_chunk`` items; one (serial) for mid-size work unless threads are awake (:func:`native_parallel.warm`;
    ``team``: a Numba kernel, which runs on the team): an isolated mid-size op, say between two matmuls on
    another pool, would spend more waking threads than it saves."""
    k = min(get_num_threads(), n // min_chunk)
    if k <= 1:
        return 1
    return k if size >= COLD_MIN or native_parallel.warm(team) else 1
