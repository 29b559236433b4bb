"""Large binary arithmetic (``+ - * /``) split over all cores.

NumPy's ufuncs run on one core.  For operands of at least ``PARALLEL_MIN``
elements, :func:`apply` runs the same IEEE operation in Numba kernels on the
native team (two same-shape arrays, or an array and a scalar, one float
dtype), or the ufunc over chunks of the broadcast result on the pool
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

from .elementwise_engine import MIN_CHUNK, map_nary
from .parallel import get_num_threads
from .pointwise import map_ufunc

__all__ = ["apply"]

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


_ARRAY_KERNELS = {np.add: _add_k, np.subtract: _sub_k, np.multiply: _mul_k, np.divide: _div_k}
_SCALAR_KERNELS = {np.add: _add_s, np.subtract: _sub_s, np.multiply: _mul_s, np.divide: _div_s}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _plain(a) -> bool:
    return type(a) is np.ndarray and a.dtype in _FLOATS and a.flags.c_contiguous


def apply(ufunc, x, y):
    """``ufunc(x, y)`` (NumPy's result, dtype included) on all cores when the operands are large."""
    if get_num_threads() == 1 or not isinstance(ufunc, np.ufunc):
        return ufunc(x, y)
    if _plain(x) and _plain(y) and x.shape == y.shape and x.dtype == y.dtype and ufunc in _ARRAY_KERNELS:
        return map_nary(_ARRAY_KERNELS[ufunc], (x, y))
    for arr, s, swap in ((x, y, False), (y, x, True)):
        if _plain(arr) and ufunc in _SCALAR_KERNELS and _same_type_scalar(s, arr.dtype):
            return map_nary(_SCALAR_KERNELS[ufunc], (arr,), arr.dtype.type(s), swap)
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
