"""``pow`` by a scalar exponent, and any NumPy ufunc, chunked over all cores.

``pow`` follows torch's special cases (``aten/native/cpu/PowKernel.cpp``):
exponent 2 -> ``x * x``, 3 -> ``x * x * x``, 0.5 -> ``sqrt``, -0.5 ->
``1 / sqrt``, -1 -> ``1 / x``, -2 -> ``1 / (x * x)``; other integral and
half-integral exponents of float32 compute in float64 (one rounding, as
``powf``); everything else calls NumPy's ``power`` (libm ``pow``).

>>> import numpy as np
>>> pow_forward(np.array([2.0], np.float32), 3.0)
array([8.], dtype=float32)
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .elementwise_engine import (
    LIGHT,
    MIN_CHUNK,
    PARALLEL_MIN,
    STREAMS,
    get_num_threads,
    grain,
    map_nary,
    map_unary,
    parallel_chunks,
    split_min,
    split_new,
)
from .lazy import kernels
from .unary_math import FASTMATH, exp_rounded32

__all__ = ["entry_point", "exp32", "map_ufunc", "pow_backward", "pow_forward", "serial", "small_map", "small_map2"]

_J = {"fastmath": FASTMATH, "cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}
_SQ, _CUBE, _SQRT, _RSQRT, _RECIP, _RECIP_SQ, _INT64, _HALF64, _ONE = range(9)


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_SPECIAL = {2.0: _SQ, 3.0: _CUBE, 0.5: _SQRT, -0.5: _RSQRT, -1.0: _RECIP, -2.0: _RECIP_SQ, 1.0: _ONE}
_SPECIAL_PARAMS = {e: (np.int64(m), np.int64(0)) for e, m in _SPECIAL.items()}  # _pow_fwd's (mode, n)


def _mode(e: float):
    """(kernel mode, integer part) for a float exponent, or None for the generic ``power``."""
    m = _SPECIAL.get(e)
    if m is not None:
        return m, 0
    if abs(e) <= 64 and float(e).is_integer():
        return _INT64, int(e)
    if abs(e) <= 64 and float(2 * e).is_integer():
        return _HALF64, int(2 * e)
    return None


@njit(fastmath=FASTMATH, cache=True, inline="always", error_model="numpy", boundscheck=False)
def _ipow_blocked(x, out, n, half, g, c, has_g):
    """``out = [g *] c * x ** n`` (``half``: ``x ** (n / 2)``, ``n`` odd) in float64, by binary
    exponentiation over blocks of 256 elements (the bit loop outside, so the element loops vectorise)."""
    neg = n < 0
    if half:
        n = (abs(n) - 1) // 2  # x ** (k + 1/2) = x ** k * sqrt(x), then 1 / that for negative exponents
    r = np.empty(256)
    b = np.empty(256)
    m = x.shape[0]
    for s in range(0, m, 256):
        k = min(256, m - s)
        xs = x[s:s + k]
        for j in range(k):
            r[j] = 1.0
            b[j] = np.float64(xs[j])
        e = abs(n)
        while e:
            if e & 1:
                for j in range(k):
                    r[j] *= b[j]
            e >>= 1
            if e:
                for j in range(k):
                    b[j] *= b[j]
        if half:
            for j in range(k):
                v = np.float64(xs[j])
                r[j] *= np.sqrt(v)
                r[j] = np.inf if v == -np.inf else r[j]  # C pow(-inf, +-non-integer) = inf / 0
        if neg:
            for j in range(k):
                r[j] = 1.0 / r[j]
        os = out[s:s + k]
        if has_g:
            gs = g[s:s + k]
            for j in range(k):
                os[j] = gs[j] * (c * r[j])
        else:
            for j in range(k):
                os[j] = r[j]


@njit(**_J)
def _pow_fwd(x, out, mode, n):
    one = x.dtype.type(1.0)
    m = x.shape[0]
    if mode == _SQ:
        for i in range(m):
            out[i] = x[i] * x[i]
    elif mode == _CUBE:
        for i in range(m):
            out[i] = x[i] * x[i] * x[i]
    elif mode == _SQRT:
        for i in range(m):
            out[i] = np.sqrt(x[i])
    elif mode == _RSQRT:
        for i in range(m):
            out[i] = one / np.sqrt(x[i])
    elif mode == _RECIP:
        for i in range(m):
            out[i] = one / x[i]
    elif mode == _RECIP_SQ:
        for i in range(m):
            out[i] = one / (x[i] * x[i])
    elif mode == _ONE:
        out[:] = x
    else:
        _ipow_blocked(x, out, n, mode == _HALF64, x, one, False)


@njit(**_J)
def _pow_bwd(g, x, out, mode, n, c):
    """``out = g * (c * x ** e)``, ``e`` given by (mode, n)."""
    one = x.dtype.type(1.0)
    m = x.shape[0]
    if mode == _SQ:
        for i in range(m):
            out[i] = g[i] * (c * (x[i] * x[i]))
    elif mode == _CUBE:
        for i in range(m):
            out[i] = g[i] * (c * (x[i] * x[i] * x[i]))
    elif mode == _SQRT:
        for i in range(m):
            out[i] = g[i] * (c * np.sqrt(x[i]))
    elif mode == _RSQRT:
        for i in range(m):
            out[i] = g[i] * (c * (one / np.sqrt(x[i])))
    elif mode == _RECIP:
        for i in range(m):
            out[i] = g[i] * (c * (one / x[i]))
    elif mode == _RECIP_SQ:
        for i in range(m):
            out[i] = g[i] * (c * (one / (x[i] * x[i])))
    elif mode == _ONE:
        for i in range(m):
            out[i] = g[i] * (c * x[i])
    else:
        _ipow_blocked(x, out, n, mode == _HALF64, g, c, True)


grain(LIGHT, _pow_fwd)
grain(STREAMS, _pow_bwd)


@njit(**_J)
def _exp32_k(x, out):
    for i in range(x.shape[0]):
        out[i] = exp_rounded32(x[i])


def exp32(x: np.ndarray) -> np.ndarray:
    """``exp`` of a float32 array, within 0.503 ulp (see ``unary_math.exp_rounded32``), split over the team's
    threads when large (NumPy's ``exp`` runs on one core, at about the speed of one such thread).

    >>> exp32(np.array([0.0, 1.0], np.float32))
    array([1.       , 2.7182817], dtype=float32)
    """
    if x.size < PARALLEL_MIN or not x.flags.c_contiguous or (out := split_new(_exp32_k, (x,))) is None:
        return small_map(_exp32_k, x)
    return out


def _f64_power(a, o, e):
    # float32 through float64: NumPy's float32 power is off by up to ~10 ulps at large |x|
    with np.errstate(all="ignore"):  # NaN / inf results as torch, silently
        o[...] = np.power(a, e) if a.dtype == np.float64 else np.power(a.astype(np.float64), e)


def _generic_pow(x, e):
    return map_unary(_f64_power, x, e)


def pow_forward(x: np.ndarray, exponent: float) -> np.ndarray:
    """``x ** exponent`` for a float array and a Python-number exponent."""
    e = float(exponent)
    params = _SPECIAL_PARAMS.get(e)
    dt = x.dtype
    if params is not None and (dt is _F32 or dt is _F64):  # the common case first: x * x, x * x * x, ...
        if x.size < PARALLEL_MIN:
            return small_map(_pow_fwd, x, *params)
        if x.flags.c_contiguous and (out := split_new(_pow_fwd, (x,), params)) is not None:
            return out
        if serial(x.size, _pow_fwd):
            return small_map(_pow_fwd, x, *params)
        return map_unary(_pow_fwd, x, *params)
    if e == 0.0:
        return np.ones(x.shape, x.dtype)  # torch: pow(x, 0) == 1, NaN included
    m = _SPECIAL.get(e)  # 2, 3, 0.5, -0.5, -1, -2, 1: one multiply / sqrt / divide
    m = _mode(e) if m is None else (m, 0)
    if m is None or m[0] in (_INT64, _HALF64):
        r = kernels("sleef_pow").pow_tensor_number(x, e)  # torch's SLEEF powf for float32 / half types
        if r is not None:
            return r
    if m is None or (dt == np.float64 and m[0] in (_INT64, _HALF64)):
        return _generic_pow(x, e)
    if (dt is _F32 or dt is _F64) and serial(x.size, _pow_fwd):
        return small_map(_pow_fwd, x, m[0], m[1])
    return map_unary(_pow_fwd, x, np.int64(m[0]), np.int64(m[1]))


def pow_backward(grad: np.ndarray, x: np.ndarray, y=None, exponent: float = 2.0) -> np.ndarray:
    """``grad * exponent * x ** (exponent - 1)`` in one pass (zeros for exponent 0, as torch)."""
    e = float(exponent)
    if e == 0.0:
        return np.zeros(x.shape, grad.dtype)
    m = _mode(e - 1.0)
    if (m is None or m[0] in (_INT64, _HALF64)) and x.dtype == grad.dtype and x.dtype.char in "fd":
        r = kernels("sleef_pow").pow_tensor_number(x, e - 1.0)  # torch: grad * (e * x.pow(e - 1))
        with np.errstate(all="ignore"):
            return np.multiply(grad, np.multiply(r, x.dtype.type(e)))
    if m is None or (x.dtype == np.float64 and m[0] in (_INT64, _HALF64)):
        def k(gg, a, o):
            _f64_power(a, o, e - 1.0)
            with np.errstate(all="ignore"):
                np.multiply(o, o.dtype.type(e), out=o)
                np.multiply(gg, o, out=o)

        return map_nary(k, (grad, x))
    ct = np.float64 if x.dtype == np.float64 else np.float32
    if serial(x.size, _pow_bwd) and x.dtype == ct and grad.dtype == ct and grad.shape == x.shape:
        return small_map2(_pow_bwd, grad, x, m[0], m[1], e)
    return map_nary(_pow_bwd, (grad, x), np.int64(m[0]), np.int64(m[1]), ct(e))


def entry_point(kernel, *example_args):
    """The compiled entry of the Numba ``kernel`` for the types of ``example_args`` (compiled, or loaded from
    Numba's cache, once). Calling it skips Numba's type dispatch (~0.1 us a call, ~0.6 us per NumPy scalar
    argument); it converts Python numbers to the signature's scalar types but does not check array dtypes,
    ranks or layouts: the caller passes arrays exactly like the examples."""
    if not hasattr(kernel, "compile"):  # NUMBA_DISABLE_JIT: the plain Python function
        return kernel
    return kernel.compile(tuple(kernel.typeof_pyval(a) for a in example_args))


_ENTRIES: dict = {}


def small_map(kernel, x: np.ndarray, *params) -> np.ndarray:
    """``kernel(flat_x, flat_out, *params)`` into a new C-contiguous array of ``x``'s shape and dtype, through
    the kernel's entry point: the small-tensor path (no pool, no dispatch). ``x`` is float32 or float64, of any
    layout (``ravel`` copies a strided one); a Python float in ``params`` becomes ``x``'s dtype, an int int64.

    >>> small_map(_pow_fwd, np.array([3.0], np.float32), _SQ, 0)
    array([9.], dtype=float32)
    """
    dt = x.dtype
    ep = _ENTRIES.get((kernel, dt))
    if ep is None:
        ex = np.empty(0, dt)
        ep = _ENTRIES[kernel, dt] = entry_point(kernel, ex, ex, *[dt.type(p) if isinstance(p, float) else np.int64(p)
                                                                   for p in params])
    out = np.empty(x.shape, dt)
    ep(x.ravel(), out.ravel(), *params)  # ravel: contiguous (a copy when x is not)
    return out


def small_map2(kernel, a: np.ndarray, b: np.ndarray, *params) -> np.ndarray:
    """:func:`small_map` of a two-input kernel ``kernel(flat_a, flat_b, flat_out, *params)``; ``a`` and ``b``
    have one shape and one dtype (float32 or float64)."""
    dt = a.dtype
    ep = _ENTRIES.get((kernel, dt, 2))
    if ep is None:
        ex = np.empty(0, dt)
        ep = _ENTRIES[kernel, dt, 2] = entry_point(kernel, ex, ex, ex, *[dt.type(p) if isinstance(p, float)
                                                                         else np.int64(p) for p in params])
    out = np.empty(a.shape, dt)
    ep(a.ravel(), b.ravel(), out.ravel(), *params)
    return out


def serial(n: int, kernel=None) -> bool:
    """Whether ``n`` elements of work of ``kernel`` run on the calling thread alone (below its
    ``split_min``, or one thread): :func:`small_map`'s job."""
    return n < (PARALLEL_MIN if kernel is None else split_min(kernel)) or get_num_threads() == 1


def map_ufunc(ufunc, *operands, out=None):
    """``ufunc(*operands)`` with NumPy broadcasting, split over the output's first axis on all cores.

    ``operands`` are arrays (or NumPy scalars); the result dtype is NumPy's."""
    for a in operands:
        if getattr(a, "size", 1) >= PARALLEL_MIN:
            break
    else:  # every operand small (an outer broadcast of small ones stays serial): the plain call
        return ufunc(*operands) if out is None else ufunc(*operands, out=out)
    shape = np.broadcast_shapes(*[np.shape(a) for a in operands])
    if get_num_threads() == 1 or len(shape) == 0 or shape[0] < 2:
        return ufunc(*operands) if out is None else ufunc(*operands, out=out)
    arrs = [np.asarray(a) for a in operands]
    if out is None:
        out = np.empty(shape, ufunc.resolve_dtypes(tuple(a.dtype for a in arrs) + (None,))[-1])
    size = out.size
    views = np.broadcast_arrays(*arrs)
    parallel_chunks(lambda s, e: ufunc(*[v[s:e] for v in views], out=out[s:e]), shape[0],
                    max(1, MIN_CHUNK * shape[0] // size))
    return out

