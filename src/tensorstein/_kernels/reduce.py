"""Reductions on all cores: sum, mean, amax / max with indices, var, norm — over all elements or one dim.

The operand is viewed as ``(A, D, B)`` (``D`` the reduced dim).  Numba kernels on the native team
(:mod:`.native_parallel`) take the last dim (rows split), full sums (per-chunk partials added in order)
and sums with ``A == 1`` (columns split, added in NumPy's order).  Other dims split NumPy's reductions
over ``A`` or else ``B`` on the pool, and other full reductions combine NumPy partial results of
contiguous chunks; small operands take the direct call.

>>> import numpy as np
>>> sum_(np.ones((4, 3), np.float32), dim=1)
array([3., 3., 3., 3.], dtype=float32)
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from numba import njit, types
from numba.extending import overload

from .elementwise_engine import (
    MIN_CHUNK,
    PARALLEL_MIN,
    READ_CHUNK,
    as_compute,
    get_num_threads,
    grain,
    map_rows,
    map_rows_indexed,
    map_sliced,
    parallel_chunks,
    row_chunks,
)
from .fast_exp import FASTMATH, row_max

__all__ = ["amax", "max_dim", "mean", "norm", "norm_backward", "sum_", "var", "var_backward"]

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)

_J = {"fastmath": FASTMATH, "cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}


@njit(fastmath=FASTMATH, cache=True, inline="always", error_model="numpy", boundscheck=False)
def _blocked(r, sq):
    """Sum (``sq``: of squares) of a contiguous 1-D row: vectorised partial sums over blocks of 2048
    in the row's dtype, the block sums added in float64 (error independent of the length)."""
    n = r.shape[0]
    tot = 0.0
    for s in range(0, n, 2048):
        blk = r[s:min(s + 2048, n)]
        acc = r.dtype.type(0.0)
        if sq:
            for j in range(blk.shape[0]):
                acc += blk[j] * blk[j]
        else:
            for j in range(blk.shape[0]):
                acc += blk[j]
        tot += acc
    return tot


@njit(**_J)
def _flat_k(x, sq):
    return _blocked(x, sq)


@njit(**_J)
def _rows_k(x2, out, op):
    """Per-row reduction of a C-contiguous (R, C) array: 0 sum, 1 sum of squares, 2 max,
    3 sum of squared deviations from the mean."""
    for i in range(x2.shape[0]):
        if op == 3:  # sum of squared deviations from the row mean (two passes over a cached row)
            r = x2[i]
            mu = r.dtype.type(_blocked(r, False) / r.shape[0])
            tot = 0.0
            for s in range(0, r.shape[0], 2048):
                blk = r[s:min(s + 2048, r.shape[0])]
                acc = r.dtype.type(0.0)
                for j in range(blk.shape[0]):
                    d = blk[j] - mu
                    acc += d * d
                tot += acc
            out[i] = tot
        elif op == 2:
            r = x2[i]
            nans = 0
            for j in range(r.shape[0]):  # row_max's vector select drops NaN: count them (vectorises)
                nans += 1 if r[j] != r[j] else 0
            out[i] = row_max(r) if nans == 0 else r.dtype.type(np.nan)
        else:
            out[i] = _blocked(x2[i], op == 1)


def _arg_ext(row, want_max):  # pragma: no cover - replaced by the overload inside numba
    """Index of the first max (``want_max``) or min of a contiguous 1-D float row, or of its first NaN (torch's
    ``max(dim)`` / ``min(dim)``), inside ``@njit`` code."""
    return int(np.argmax(row) if want_max else np.argmin(row))


# FP min/max reductions do not vectorise in Numba; integer ones do. The IEEE order is the signed order of the key
# ``i ^ ((i >> 31) & 0x7fffffff)`` of the bit pattern ``i``; ``k - (k >> 31)`` merges -0.0 with 0.0 (they compare
# equal) and ``~k`` reverses the order (min as a max). NaN is ``(i & 0x7fffffff) > 0x7f800000``. Per block of 64:
# the largest key and a NaN count (vectorised); then one scan of the first NaN block or of the block of the max.
@njit(fastmath=FASTMATH, cache=True, inline="always", error_model="numpy", boundscheck=False)
def _arg_ext_bits(ri, want_max, sh, mag, inf, low):
    """The scan on the bit patterns ``ri`` (int32 or int64) of a float row: ``sh`` the sign shift, ``mag`` the
    magnitude mask, ``inf`` the bits of +inf, ``low`` the smallest key, all of ``ri``'s type."""
    t = ri.dtype.type
    n = ri.shape[0]
    flip = t(0) if want_max else t(-1)
    best = low
    at = 0
    for s in range(0, n, 64):
        blk = ri[s:min(s + 64, n)]
        m = low
        nan = t(0)
        for j in range(blk.shape[0]):
            i = blk[j]
            k = t(i ^ t((i >> sh) & mag))
            k = t(t(k - t(k >> sh)) ^ flip)
            m = k if k > m else m
            nan += t(1) if t(i & mag) > inf else t(0)
        if nan:
            for j in range(blk.shape[0]):
                if t(blk[j] & mag) > inf:
                    return s + j
        if m > best:
            best = m
            at = s
    blk = ri[at:min(at + 64, n)]
    for j in range(blk.shape[0]):
        i = blk[j]
        k = t(i ^ t((i >> sh) & mag))
        if t(t(k - t(k >> sh)) ^ flip) == best:
            return at + j
    return at


@njit(fastmath=FASTMATH, cache=True, inline="always", error_model="numpy", boundscheck=False)
def _arg_ext_f32(row, want_max):
    return _arg_ext_bits(row.view(np.int32), want_max, np.int32(31), np.int32(0x7FFFFFFF), np.int32(0x7F800000),
                         np.int32(-2147483648))


@njit(fastmath=FASTMATH, cache=True, inline="always", error_model="numpy", boundscheck=False)
def _arg_ext_f64(row, want_max):
    return _arg_ext_bits(row.view(np.int64), want_max, np.int64(63), np.int64(0x7FFFFFFFFFFFFFFF),
                         np.int64(0x7FF0000000000000), np.int64(-9223372036854775807 - 1))


@overload(_arg_ext, fastmath=FASTMATH)
def _ov_arg_ext(row, want_max):
    if isinstance(row, types.Array) and row.dtype == types.float32:
        return lambda row, want_max: _arg_ext_f32(row, want_max)
    if isinstance(row, types.Array) and row.dtype == types.float64:
        return lambda row, want_max: _arg_ext_f64(row, want_max)
    return None


@njit(**_J)
def _rows_ext_k(x2, vals, idx, want_max):
    """Per-row max (``want_max``) or min of a C-contiguous (R, C) float array with the index of its first
    occurrence; a row holding NaN gives NaN and the index of its first NaN (torch's ``max(dim)``)."""
    for i in range(x2.shape[0]):
        k = _arg_ext(x2[i], want_max)
        idx[i] = k
        vals[i] = x2[i, k]


@njit(**_J)
def _rows_split_bk(x2, vals, g, out):
    """Gradient of a per-row amax / amin, torch's ``(g / count) * mask``, ``mask`` the elements equal to the
    row's result: ties share the gradient evenly; a NaN result (nothing equal, count 0) gives NaN."""
    zero = x2.dtype.type(0.0)
    one = x2.dtype.type(1.0)
    for i in range(x2.shape[0]):
        r = x2[i]
        o = out[i]
        m = vals[i]
        c = 0
        for j in range(r.shape[0]):
            c += 1 if r[j] == m else 0
        share = g[i] / x2.dtype.type(c)
        for j in range(r.shape[0]):
            o[j] = share * (one if r[j] == m else zero)


@njit(**_J)
def _rows_scatter_k(idx, g, out):
    """``out[i, idx[i]] = g[i]`` over a zeroed (R, C) ``out``: the gradient of ``max(dim)`` / ``min(dim)``."""
    for i in range(idx.shape[0]):
        out[i, idx[i]] = g[i]


@njit(**_J)
def _class_targets_k(tgt, ignore, c):
    """``(how many targets equal ignore, index of the first other target outside [0, c) or -1)``: the
    target check of cross_entropy / nll_loss in one pass."""
    n_ignored = 0
    bad = -1
    for i in range(tgt.shape[0]):
        k = tgt[i]
        if k == ignore:
            n_ignored += 1
        elif (k < 0 or k >= c) and bad < 0:
            bad = i
    return n_ignored, bad


def _last_dim(x, dim, keepdim, op):
    """Reduction over the last dim of a contiguous float array (op as :func:`_rows_k`), or None."""
    if not (x.ndim and dim % x.ndim == x.ndim - 1 and x.flags.c_contiguous and x.shape[-1]
            and (x.dtype == np.float32 or x.dtype == np.float64)):
        return None
    x2 = x.reshape(-1, x.shape[-1])
    out = np.empty(x2.shape[0], x.dtype)
    if _serial(x.size) or x2.shape[0] < 2:
        _rows_k(x2, out, op)
    else:
        chunk = READ_CHUNK if op < 2 else MIN_CHUNK  # sums only read; max (NaN checks) and var cost more
        map_sliced(_rows_k, (x2, out), (op,), max(1, chunk // x2.shape[1]))
    return out.reshape(x.shape[:-1] + ((1,) if keepdim else ()))


def _serial(n: int) -> bool:
    return n < PARALLEL_MIN or get_num_threads() == 1


def _split3(x, dim):
    d = dim % x.ndim
    a = math.prod(x.shape[:d])
    b = math.prod(x.shape[d + 1:])
    return x.reshape(a, x.shape[d], b), d


def _reduce_dim(x, dim, keepdim, fn, out_dtype=None):
    """``fn(block (a, D, b)) -> (a, b)`` over one dim, split over ``a`` or ``b``."""
    x = as_compute(x)
    x3, d = _split3(x, dim)
    a, _, b = x3.shape
    out = np.empty((a, b), out_dtype or x.dtype)
    if _serial(x.size) or (a < 2 and b < 2):
        out[...] = fn(x3)
    elif a >= 2:
        parallel_chunks(lambda s, e: out.__setitem__(slice(s, e), fn(x3[s:e])), a, max(1, MIN_CHUNK * a // x.size))
    else:
        parallel_chunks(lambda s, e: out.__setitem__((slice(None), slice(s, e)), fn(x3[:, :, s:e])), b,
                        max(1, MIN_CHUNK * b // x.size))
    return out.reshape(_reduced_shape(x.shape, d, keepdim))


def _reduced_shape(shape, d: int, keepdim: bool) -> list:
    """``shape`` reduced over dim ``d``: 1 there (``keepdim``) or dropped."""
    out = list(shape)
    if keepdim:
        out[d] = 1
    else:
        del out[d]
    return out


def _reduce_all(x, partial, combine):
    """``combine([partial(chunk) ...])`` over contiguous chunks of the flattened operand."""
    flat = as_compute(x).reshape(-1)
    if _serial(flat.size):
        return combine([partial(flat)])
    parts = []
    parallel_chunks(lambda s, e: parts.append((s, partial(flat[s:e]))), flat.size, MIN_CHUNK * 4)
    return combine([p for _, p in sorted(parts, key=lambda t: t[0])])  # fixed order: deterministic sums


def _cdt(x):
    return np.float64 if x.dtype == np.float64 else np.float32


def _finish(r, x, dim, keepdim):
    r = np.asarray(r, dtype=_cdt(x))
    if dim is None and keepdim:
        r = r.reshape((1,) * x.ndim)
    return r if r.dtype == x.dtype else r.astype(x.dtype)


def _blocked_sum(blk):
    """(a, D, b) -> (a, b).  A strided sum (b > 1) is serial in NumPy: sum blocks of 512 rows, then
    the block sums, so the error grows like torch's cascade sum, not like D."""
    d = blk.shape[1]
    if blk.shape[2] == 1 or d <= 1024:
        return blk.sum(axis=1)
    return np.stack([blk[:, s:s + 512].sum(axis=1) for s in range(0, d, 512)], axis=1).sum(axis=1)


def _small(x):
    """Small float32/float64 operands: the plain NumPy call is the fast path."""
    return x.size < PARALLEL_MIN and (x.dtype == np.float32 or x.dtype == np.float64)


@njit(**_J)
def _flat_part(k, lo, hi, flat, parts, sq):
    parts[k] = _blocked(flat[lo:hi], sq)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)  # no fast-math: NumPy's additions, in order
def _colsum_k(c0, c1, x2, out, sq):
    """Columns ``c0:c1`` of the sum over the rows of a C-contiguous (D, B) array, as :func:`_blocked_sum`
    adds them: row by row, in blocks of 512 rows when D > 1024, then the block sums in order. (One loop per
    ``sq`` over each row's columns, indexed without sign so that no wrap-around test stops LLVM vectorising
    it: ~7x the speed of a loop that branches on ``sq`` per element.)"""
    d = x2.shape[0]
    w = x2.shape[1]
    flat = x2.reshape(-1)
    step = d if d <= 1024 else 512
    n = c1 - c0
    acc = np.empty(n, x2.dtype)
    for j in range(n):
        out[c0 + j] = 0
    for s in range(0, d, step):
        acc[:] = 0
        for i in range(s, min(s + step, d)):
            row = types.uint64(i * w + c0)
            if sq:
                for j in range(n):
                    v = flat[row + types.uint64(j)]
                    acc[j] += v * v
            else:
                for j in range(n):
                    acc[j] += flat[row + types.uint64(j)]
        for j in range(n):
            out[c0 + j] += acc[j]


grain(READ_CHUNK // MIN_CHUNK, _colsum_k)  # a sum: split in chunks of READ_CHUNK elements


def _column_sum(x, dim, keepdim, sq):
    """The sum over ``dim`` of a contiguous float operand with nothing before ``dim`` (a bias gradient: (N, C)
    over N), split over column ranges on all cores when large (NumPy's strided sum is 1.5-3x slower even on one
    core); None otherwise."""
    d = dim % x.ndim if x.ndim else 0
    dt = x.dtype
    if not (x.flags.c_contiguous and (dt is _F32 or dt is _F64)) or math.prod(x.shape[:d]) != 1:
        return None
    b = math.prod(x.shape[d + 1:])
    if b < 2 or x.shape[d] == 0:
        return None
    out = np.empty(b, x.dtype)
    map_rows(_colsum_k, b, x.shape[d], x.reshape(x.shape[d], b), out, sq)
    return out.reshape(_reduced_shape(x.shape, d, keepdim))


def _sum(x, dim, keepdim, sq=False):
    if dim is None:
        flat = as_compute(x).reshape(-1)
        chunks = row_chunks(flat.size, 1, READ_CHUNK)
        parts = np.zeros(chunks)  # float64 partial sums, added in chunk order: deterministic
        if flat.size:
            map_rows_indexed(_flat_part, chunks, flat.size, flat, parts, sq)
        return sum(parts.tolist())
    r = _last_dim(x, dim, keepdim, 1 if sq else 0)
    if r is None:
        r = _column_sum(x, dim, keepdim, sq)
    if r is not None:
        return r
    return _reduce_dim(x, dim, keepdim, (lambda blk: _blocked_sum(np.square(blk))) if sq else _blocked_sum)


def sum_(x: np.ndarray, dim=None, keepdim: bool = False) -> np.ndarray:
    """Sum of a float array over all elements (``dim=None``) or one dim."""
    return _finish(_sum(x, dim, keepdim), x, dim, keepdim)


def mean(x: np.ndarray, dim=None, keepdim: bool = False) -> np.ndarray:
    """Mean over all elements or one dim (NaN for an empty reduction, as torch)."""
    n = x.size if dim is None else x.shape[dim]
    s = np.asarray(_sum(x, dim, keepdim), _cdt(x))
    with np.errstate(invalid="ignore", divide="ignore"):
        return _finish(s / s.dtype.type(n), x, dim, keepdim)


def amax(x: np.ndarray, dim=None, keepdim: bool = False) -> np.ndarray:
    """Max (NaN propagates) over all elements or one dim; errors on empty input like NumPy."""
    if _small(x) and x.size:
        return _finish(x.max() if dim is None else x.max(axis=dim, keepdims=keepdim), x, dim, keepdim)
    r = None if dim is None else _last_dim(x, dim, keepdim, 2)
    if r is not None:
        return r
    if dim is None:
        return _finish(_reduce_all(x, np.max, lambda p: np.max(p)), x, dim, keepdim)
    return _finish(_reduce_dim(x, dim, keepdim, lambda blk: blk.max(axis=1)), x, dim, keepdim)


def max_dim(x: np.ndarray, dim: int, keepdim: bool = False, largest: bool = True):
    """``(values, indices)`` of the max (``largest``) or min along ``dim`` (first occurrence; a NaN wins, as
    torch). The last dim of a contiguous float array: one row-kernel pass, rows over the cores."""
    if x.ndim and dim % x.ndim == x.ndim - 1 and x.flags.c_contiguous and x.size and \
            (x.dtype == np.float32 or x.dtype == np.float64):
        x2 = x.reshape(-1, x.shape[-1])
        vals = np.empty(x2.shape[0], x.dtype)
        idx = np.empty(x2.shape[0], np.int64)
        if _serial(x.size) or x2.shape[0] < 2:
            _rows_ext_k(x2, vals, idx, largest)
        else:  # rows over the cores, as _last_dim
            map_sliced(_rows_ext_k, (x2, vals, idx), (largest,), max(1, MIN_CHUNK // x2.shape[1]))
        shape = x.shape[:-1] + ((1,) if keepdim else ())
        return vals.reshape(shape), idx.reshape(shape)
    if not largest:
        vals, idx = max_dim(-x, dim, keepdim)
        return -vals, idx
    vals = amax(x, dim, keepdim)
    idx = _reduce_dim(x, dim, keepdim, lambda blk: blk.argmax(axis=1), np.int64)
    return vals, idx


def _moments(c):
    c64 = c.astype(np.float64)
    m = c64.mean()
    return c.size, m, float(((c64 - m) ** 2).sum())


def _combine_moments(parts):
    n = sum(p[0] for p in parts)
    m = sum(p[0] * p[1] for p in parts) / n
    return n, m, sum(p[2] + p[0] * (p[1] - m) ** 2 for p in parts)


def var(x: np.ndarray, dim=None, correction: float = 1, keepdim: bool = False) -> np.ndarray:
    """Variance with torch's ``correction`` (``N - correction`` in the denominator; <= 0 gives inf/NaN)."""
    if dim is None:
        n, _, m2 = _reduce_all(x, _moments, _combine_moments)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.float64(m2) / np.float64(max(n - correction, 0))
        return _finish(r, x, dim, keepdim)
    m2 = _last_dim(x, dim, keepdim, 3)
    if m2 is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            return m2 / m2.dtype.type(max(x.shape[dim] - correction, 0))
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # N - correction <= 0: inf / NaN, as torch
        return _finish(_reduce_dim(x, dim, keepdim, lambda blk: np.var(blk, axis=1, ddof=correction)), x, dim,
                       keepdim)


def var_backward(grad, x, dim=None, correction: float = 1, keepdim: bool = False):
    """``grad * 2 * (x - mean) / (N - correction)`` broadcast back to ``x``'s shape."""
    xc = as_compute(x)
    n = xc.size if dim is None else xc.shape[dim]
    m = xc.mean() if dim is None else xc.mean(axis=dim, keepdims=True)
    g = np.asarray(grad, xc.dtype)
    if dim is not None and not keepdim:
        g = np.expand_dims(g, dim)
    with np.errstate(divide="ignore", invalid="ignore"):
        # torch does not clamp the dof: a negative one flips the sign, zero gives inf
        out = (xc - m) * (g * xc.dtype.type(2.0 / (n - correction) if n - correction != 0 else np.inf))
    return out.astype(x.dtype, copy=False)


def norm(x: np.ndarray, p: float = 2.0, dim=None, keepdim: bool = False) -> np.ndarray:
    """Vector p-norm (``p`` in 1, 2, inf or any positive float) over all elements or one dim."""
    if p == 2.0:
        return _finish(np.sqrt(np.asarray(_sum(x, dim, keepdim, sq=True), _cdt(x))), x, dim, keepdim)
    if p == 1.0:
        return sum_(np.abs(x), dim, keepdim)
    if p == np.inf:
        return amax(np.abs(x), dim, keepdim)
    a = np.abs(as_compute(x))
    return (sum_(a ** a.dtype.type(p), dim, keepdim) ** (1.0 / p)).astype(x.dtype, copy=False)


def norm_backward(grad, x, y, p: float = 2.0, dim=None, keepdim: bool = False):
    """Gradient of :func:`norm` (p = 2: ``grad * x / norm``, 0 where the norm is 0, as torch)."""
    if p != 2.0:
        raise NotImplementedError("norm_backward: only p=2 is fused")
    xc = as_compute(x)
    g = np.asarray(grad, xc.dtype)
    yy = np.asarray(y, xc.dtype)
    if dim is not None and not keepdim:
        g, yy = np.expand_dims(g, dim), np.expand_dims(yy, dim)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(yy == 0, xc.dtype.type(0.0), g / yy)
    return (xc * scale).astype(x.dtype, copy=False)
