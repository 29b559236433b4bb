"""Large binary arithmetic (``+ - * /``) split over all cores.

NumPy's ufuncs run on one core.  For operands of at least ``PARALLEL_MIN``
elements, :func:`apply` runs the same IEEE operation in Numba kernels on the
native team (two same-shape arrays, an array and the trailing-dims array
broadcast over its rows, or an array and a scalar; one float dtype), or the
ufunc over chunks of the broadcast result on the pool
(:func:`.pointwise.map_ufunc`).  Results are bit-identical to the ufunc's:
no fast-math, one rounding per element.

>>> import numpy as np
>>> x = np.arange(40000, dtype=np.float32)
>>> bool((apply(np.multiply, x, x) == x * x).all())
True
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .elementwise_engine import LIGHT, MIN_CHUNK, STREAMS, grain, map_nary, map_sliced, split_new
from .parallel import get_num_threads
from .pointwise import map_ufunc

__all__ = ["apply", "masked_fill", "same_shape", "with_scalar"]

_J = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}


@njit(**_J)
def _add_k(x, y, out):
    for i in range(out.shape[0]):
        out[i] = x[i] + y[i]


@njit(**_J)
def _sub_k(x, y, out):
    for i in range(out.shape[0]):
        out[i] = x[i] - y[i]


@njit(**_J)
def _mul_k(x, y, out):
    for i in range(out.shape[0]):
        out[i] = x[i] * y[i]


@njit(**_J)
def _div_k(x, y, out):
    for i in range(out.shape[0]):
        out[i] = x[i] / y[i]


@njit(**_J)
def _add_s(x, out, s, _swap):
    for i in range(out.shape[0]):
        out[i] = x[i] + s


@njit(**_J)
def _sub_s(x, out, s, swap):
    if swap:
        for i in range(out.shape[0]):
            out[i] = s - x[i]
    else:
        for i in range(out.shape[0]):
            out[i] = x[i] - s


@njit(**_J)
def _mul_s(x, out, s, _swap):
    for i in range(out.shape[0]):
        out[i] = x[i] * s


@njit(**_J)
def _div_s(x, out, s, swap):
    if swap:
        for i in range(out.shape[0]):
            out[i] = s / x[i]
    else:
        for i in range(out.shape[0]):
            out[i] = x[i] / s


@njit(**_J)
def _add_r(x, out, y, _swap):
    for r in range(out.shape[0]):
        for j in range(y.shape[0]):
            out[r, j] = x[r, j] + y[j]


@njit(**_J)
def _sub_r(x, out, y, swap):
    for r in range(out.shape[0]):
        if swap:
            for j in range(y.shape[0]):
                out[r, j] = y[j] - x[r, j]
        else:
            for j in range(y.shape[0]):
                out[r, j] = x[r, j] - y[j]


@njit(**_J)
def _mul_r(x, out, y, _swap):
    for r in range(out.shape[0]):
        for j in range(y.shape[0]):
            out[r, j] = x[r, j] * y[j]


@njit(**_J)
def _div_r(x, out, y, swap):
    for r in range(out.shape[0]):
        if swap:
            for j in range(y.shape[0]):
                out[r, j] = y[j] / x[r, j]
        else:
            for j in range(y.shape[0]):
                out[r, j] = x[r, j] / y[j]


@njit(**_J)
def _fill_k(x, m, out, value):
    for i in range(out.shape[0]):
        out[i] = value if m[i] else x[i]


@njit(**_J)
def _fill_r(x, out, m, value):
    for r in range(out.shape[0]):
        for j in range(m.shape[0]):
            out[r, j] = value if m[j] else x[r, j]


grain(STREAMS, _add_k, _sub_k, _mul_k, _div_k)
grain(LIGHT, _add_s, _sub_s, _mul_s, _div_s, _add_r, _sub_r, _mul_r, _div_r, _fill_k, _fill_r)
_ARRAY_KERNELS = {np.add: _add_k, np.subtract: _sub_k, np.multiply: _mul_k, np.divide: _div_k}
_SCALAR_KERNELS = {np.add: _add_s, np.subtract: _sub_s, np.multiply: _mul_s, np.divide: _div_s}
_ROW_KERNELS = {np.add: _add_r, np.subtract: _sub_r, np.multiply: _mul_r, np.divide: _div_r}  # trailing broadcast
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _plain(a) -> bool:
    if type(a) is not np.ndarray:
        return False
    dt = a.dtype
    return (dt is _F32 or dt is _F64) and a.flags.c_contiguous  # identity: ``in`` compares, ~0.1 µs a dtype


def same_shape(ufunc, x, y):
    """``ufunc(x, y)`` on all cores for same-shape C-contiguous arrays of one float dtype (split over the team,
    or the pool where the team cannot take it); None where that does not apply (then :func:`apply`'s other
    cases serve). The hot path of ``a + b``, taken first by :func:`apply` too."""
    kernel = _ARRAY_KERNELS.get(ufunc)
    dt = x.dtype
    if kernel is None or get_num_threads() == 1 or dt is not y.dtype or not (dt is _F32 or dt is _F64) or \
            x.shape != y.shape or not (x.flags.c_contiguous and y.flags.c_contiguous):
        return None
    out = split_new(kernel, (x, y))
    return out if out is not None else map_nary(kernel, (x, y))


def with_scalar(ufunc, x, s, swap: bool = False):
    """``ufunc(x, s)`` (``swap``: ``ufunc(s, x)``) on all cores for a C-contiguous float array and a scalar NumPy
    computes in its dtype (see :func:`_same_type_scalar`); None where that does not apply. The hot path of
    ``a * 2.0``, and :func:`apply`'s scalar case."""
    kernel = _SCALAR_KERNELS.get(ufunc)
    if kernel is None or get_num_threads() == 1 or not _plain(x) or not (
            type(s) is float or _same_type_scalar(s, x.dtype)):
        return None
    out = split_new(kernel, (x,), (s if type(s) is float else x.dtype.type(s), swap))  # (a float: the team
    # rounds it to x's dtype once, as NumPy does)
    return out if out is not None else map_nary(kernel, (x,), x.dtype.type(s), swap)


def apply(ufunc, x, y):
    """``ufunc(x, y)`` (NumPy's result, dtype included) on all cores when the operands are large."""
    if get_num_threads() == 1 or not isinstance(ufunc, np.ufunc):
        return ufunc(x, y)
    if type(x) is np.ndarray and type(y) is np.ndarray and (out := same_shape(ufunc, x, y)) is not None:
        return out
    if _plain(x) and _plain(y) and x.dtype == y.dtype and ufunc in _ROW_KERNELS:
        big, small, swap = (x, y, False) if x.size >= y.size else (y, x, True)
        k = small.size
        if 0 < small.ndim <= big.ndim and big.shape[big.ndim - small.ndim:] == small.shape and k:
            out = np.empty_like(big)  # e.g. (B, T, C) + (C,) or (B, T, C) + (T, C): one operand's rows repeat
            map_sliced(_ROW_KERNELS[ufunc], (big.reshape(-1, k), out.reshape(-1, k)), (small.reshape(-1), swap),
                       max(1, MIN_CHUNK // k))
            return out
    for arr, s, swap in ((x, y, False), (y, x, True)):
        if type(arr) is np.ndarray and (out := with_scalar(ufunc, arr, s, swap)) is not None:
            return out
    if type(x) is not np.ndarray or type(y) is not np.ndarray or max(x.size, y.size) < MIN_CHUNK * 2:
        return ufunc(x, y)
    return map_ufunc(ufunc, x, y)


def _same_type_scalar(s, dtype) -> bool:
    """Whether NumPy computes ``array(dtype) op s`` in ``dtype`` with ``s`` rounded once to it (NEP 50)."""
    t = type(s)
    if t is float:
        return True
    if t is int:
        return -(2 ** 24) <= s <= 2 ** 24  # exact in float32 and float64
    return (t is np.float32 or t is np.float64) and s.dtype == dtype


def masked_fill(x, mask, value):
    """``np.where(mask, value, x)`` for a float array ``x`` and a bool ``mask`` of ``x``'s shape or of its
    trailing dims (``(T, T)`` over ``(B, H, T, T)``); None where that does not apply."""
    if not (_plain(x) and type(mask) is np.ndarray and mask.dtype == np.bool_ and mask.size):
        return None
    while mask.ndim > 1 and mask.shape[0] == 1:  # (1, 1, T, T) -> (T, T)
        mask = mask[0]
    if not (mask.ndim <= x.ndim and x.shape[x.ndim - mask.ndim:] == mask.shape):
        return None
    mask = np.ascontiguousarray(mask)  # e.g. a causal mask sliced from a larger buffer
    v = x.dtype.type(value)
    out = np.empty_like(x)
    if mask.shape == x.shape:
        map_sliced(_fill_k, (x.reshape(-1), mask.reshape(-1), out.reshape(-1)), (v,))
    else:
        k = mask.size
        map_sliced(_fill_r, (x.reshape(-1, k), out.reshape(-1, k)), (mask.reshape(-1), v), max(1, MIN_CHUNK // k))
    return out
