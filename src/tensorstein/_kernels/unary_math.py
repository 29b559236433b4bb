"""Vectorisable scalar transcendental functions for Numba kernels.

Numba lowers ``math.erf`` / ``math.tanh`` / ``math.log1p`` to scalar libm
calls (no SVML here), which blocks loop vectorisation.  The float32 versions
below are branch-free polynomials built on :func:`fast_exp.fast_exp_f32`, so
a loop calling them vectorises; the float64 versions call libm (accurate to
1 ulp, scalar).  Each name is one function inside ``@njit`` code that picks
the float32 or float64 version at compile time:

* ``erf_s(x)``, ``erfc_s(x)``, ``erfinv_s(x)``
* ``tanh_s(x)``, ``sigmoid_s(x)``, ``expm1_s(x)``, ``exp_s(x)``
* ``exp_rounded32(x)`` -- float32 ``exp`` within 0.503 ulp (the public ``exp``)
* ``log1p01_s(t)`` -- ``log1p(t)`` for ``t`` in ``[0, 1]`` (softplus, mish)

NaN propagates through every function (no ``nnan`` fast-math flag).

>>> from numba import njit
>>> njit(lambda v: erf_s(v))(np.float32(0.5))  # doctest: +ELLIPSIS
0.52049...
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from .fast_exp import _i32_as_f32, _i64_as_f64

__all__ = ["FASTMATH", "erf_s", "erfc_s", "erfinv_s", "exp_rounded32", "exp_s", "expm1_s", "log1p01_s", "sigmoid_s",
           "tanh_s"]

# Fast-math without ``reassoc`` (it would fold the two-constant ln 2 range
# reduction into one and cost ~20 ulps at |x| ~ 100) nor ``arcp`` / ``afn``:
# element-wise loops vectorise without them.
FASTMATH = {"nsz", "contract"}
_J = {"fastmath": FASTMATH, "cache": True, "inline": "always", "error_model": "numpy"}
_F = np.float32


# ------------------------------------------------------------------ exp
# fast_exp.py's scheme (Cody-Waite reduction, Cephes expf polynomial / degree-13
# Taylor, 2**n from the exponent bits), compiled without reassociation.
@njit(**_J)
def fast_exp_f32(x):
    xc = min(max(x, _F(-87.33654)), _F(88.72283))
    fn = min(np.floor(xc * _F(1.4426950408889634) + _F(0.5)), _F(127.0))
    r = xc - fn * _F(0.693359375)
    r = r - fn * _F(-2.12194440e-4)
    p = _F(1.9875691500e-4) * r + _F(1.3981999507e-3)
    p = p * r + _F(8.3334519073e-3)
    p = p * r + _F(4.1665795894e-2)
    p = p * r + _F(1.6666665459e-1)
    p = p * r + _F(5.0000001201e-1)
    p = p * (r * r) + r + _F(1.0)
    y = p * _i32_as_f32((np.int32(fn) + np.int32(127)) << np.int32(23))
    y = _F(0.0) if x < _F(-87.33654) else y
    return _F(np.inf) if x > _F(88.72283) else y


@njit(**_J)
def fast_exp_f64(x):
    xc = min(max(x, -708.3964185322641), 709.782712893384)
    fn = min(np.floor(xc * 1.4426950408889634 + 0.5), 1023.0)
    r = xc - fn * 6.93145751953125e-1
    r = r - fn * 1.42860682030941723212e-6
    p = 1.6059043836821613e-10
    for c in (2.08767569878681e-09, 2.505210838544172e-08, 2.755731922398589e-07, 2.7557319223985893e-06,
              2.48015873015873e-05, 0.0001984126984126984, 0.001388888888888889, 0.008333333333333333,
              0.041666666666666664, 0.16666666666666666, 0.5, 1.0, 1.0):
        p = p * r + c
    y = p * _i64_as_f64((np.int64(fn) + np.int64(1023)) << np.int64(52))
    y = 0.0 if x < -708.3964185322641 else y
    return np.inf if x > 709.782712893384 else y


def _dispatch(name, f32, f64):
    """A one-argument function for ``@njit`` code: ``f32`` on float32, ``f64`` otherwise."""

    def stub(x):  # pragma: no cover - replaced by the overload inside numba
        raise NotImplementedError(f"{name} is for @njit code")

    stub.__name__ = name

    @overload(stub, fastmath=FASTMATH)
    def _ov(x):
        if x == types.float32:
            return lambda x: f32(x)
        if isinstance(x, types.Float):
            return lambda x: f64(x)
        return None

    return stub


# ------------------------------------------------------------------ erf
# float32: Eigen's rational erf on [-4, 4] (erf(+-4) rounds to +-1 in float32).

_EA = tuple(float(c) for c in (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                            -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                            -1.60960333262415e-02))
_EB = tuple(float(c) for c in (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                            -7.37332916720468e-03, -1.42647390514189e-02))
_A0, _A1, _A2, _A3, _A4, _A5, _A6 = _EA
_B0, _B1, _B2, _B3, _B4 = _EB


_FA = tuple(_F(c) for c in _EA)
_FB = tuple(_F(c) for c in _EB)


@njit(**_J)
def _erf32(x):
    # evaluated in float32 (vectorises at 16 lanes; within ~4 ulps of the exact erf near |x| = 4, ~1 ulp
    # elsewhere): the package's one erf, also behind exact GELU
    xc = min(max(x, _F(-4.0)), _F(4.0))
    z = xc * xc
    p = _FA[0] * z + _FA[1]
    p = p * z + _FA[2]
    p = p * z + _FA[3]
    p = p * z + _FA[4]
    p = p * z + _FA[5]
    p = p * z + _FA[6]
    q = _FB[0] * z + _FB[1]
    q = q * z + _FB[2]
    q = q * z + _FB[3]
    q = q * z + _FB[4]
    r = xc * p / q
    return x if np.isnan(x) else r


@njit(**_J)
def _erf64(x):
    return math.erf(x)


erf_s = _dispatch("erf_s", _erf32, _erf64)


@njit(**_J)
def _erfc32(x):
    return _F(math.erfc(np.float64(x)))


@njit(**_J)
def _erfc64(x):
    return math.erfc(x)


erfc_s = _dispatch("erfc_s", _erfc32, _erfc64)


# erfinv: Giles' single-precision approximation, then two Newton steps in float64
@njit(**_J)
def _erfinv64(y):
    a = abs(y)
    if not a < 1.0:
        if a == 1.0:
            return math.copysign(math.inf, y)
        return math.nan
    w = -math.log((1.0 - y) * (1.0 + y))
    if w < 5.0:
        w -= 2.5
        p = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941):
            p = p * w + c
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            p = p * w + c
    x = abs(p * y)
    t = 1.0 - a  # exact for a >= 0.5: the tails solve erfc(x) = 1 - |y| without cancellation
    for _ in range(2):
        err = math.erfc(x) - t if a >= 0.5 else a - math.erf(x)
        x += err / (1.1283791670955126 * math.exp(-x * x))
    return math.copysign(x, y)


@njit(**_J)
def _erfinv32(y):
    return _F(_erfinv64(np.float64(y)))


erfinv_s = _dispatch("erfinv_s", _erfinv32, _erfinv64)


# ------------------------------------------------------------------ exp family
@njit(**_J)
def _exp32(x):
    y = fast_exp_f32(x)
    return x if np.isnan(x) else y


@njit(**_J)
def _exp64(x):
    y = fast_exp_f64(x)
    return x if np.isnan(x) else y


exp_s = _dispatch("exp_s", _exp32, _exp64)


@njit(**_J)
def exp_rounded32(x):
    """float32 ``exp`` computed in float64 and rounded once: within 0.503 ulp of the true value, denormal
    results included (torch's SLEEF expf: 0.57; NumPy's float32 exp: 2.4). Range reduction by one float64
    ln 2 (exact enough for |n| <= 160), degree-8 Taylor polynomial on |r| <= 0.347 (error ~2e-10)."""
    v = np.float64(x)
    c = min(max(v, -110.0), 90.0)  # beyond: 0 and inf once rounded to float32
    n = np.floor(c * 1.4426950408889634 + 0.5)
    r = c - n * 0.6931471805599453
    p = 2.48015873015873e-05
    for k in (0.0001984126984126984, 0.001388888888888889, 0.008333333333333333, 0.041666666666666664,
              0.16666666666666666, 0.5, 1.0, 1.0):
        p = p * r + k
    y = np.float32(p * _i64_as_f64((np.int64(n) + np.int64(1023)) << np.int64(52)))
    return x if np.isnan(x) else y


@njit(**_J)
def _expm1_32(x):
    # |x| < 0.5: Taylor polynomial to x**9 (relative error < 1e-9); else exp(x) - 1
    p = _F(1 / 362880)
    p = p * x + _F(1 / 40320)
    p = p * x + _F(1 / 5040)
    p = p * x + _F(1 / 720)
    p = p * x + _F(1 / 120)
    p = p * x + _F(1 / 24)
    p = p * x + _F(1 / 6)
    p = p * x + _F(0.5)
    small = (p * x) * x + x
    big = fast_exp_f32(x) - _F(1.0)
    y = small if abs(x) < _F(0.5) else big
    return x if np.isnan(x) else y


@njit(**_J)
def _expm1_64(x):
    return math.expm1(x)


expm1_s = _dispatch("expm1_s", _expm1_32, _expm1_64)


@njit(**_J)
def _sigmoid32(x):
    y = _F(1.0) / (_F(1.0) + fast_exp_f32(-x))
    return x if np.isnan(x) else y


@njit(**_J)
def _sigmoid64(x):
    y = 1.0 / (1.0 + fast_exp_f64(-x))
    return x if np.isnan(x) else y


sigmoid_s = _dispatch("sigmoid_s", _sigmoid32, _sigmoid64)


@njit(**_J)
def _tanh32(x):
    # Cephes tanhf: odd polynomial below 0.625, sign(x) (1 - e) / (1 + e), e = exp(-2|x|), above
    z = x * x
    p = _F(-5.70498872745e-3) * z + _F(2.06390887954e-2)
    p = p * z + _F(-5.37397155531e-2)
    p = p * z + _F(1.33314422036e-1)
    p = p * z + _F(-3.33332819422e-1)
    small = p * z * x + x
    e = fast_exp_f32(_F(-2.0) * abs(x))
    big = (_F(1.0) - e) / (_F(1.0) + e)
    big = -big if x < _F(0.0) else big
    y = small if abs(x) < _F(0.625) else big
    return x if np.isnan(x) else y


@njit(**_J)
def _tanh64(x):
    return math.tanh(x)


tanh_s = _dispatch("tanh_s", _tanh32, _tanh64)


@njit(**_J)
def _log1p01_32(t):
    # log(1 + t) = 2 atanh(s), s = t / (2 + t) in [0, 1/3]: odd series to s**15
    s = t / (_F(2.0) + t)
    z = s * s
    p = _F(1 / 15) * z + _F(1 / 13)
    p = p * z + _F(1 / 11)
    p = p * z + _F(1 / 9)
    p = p * z + _F(1 / 7)
    p = p * z + _F(1 / 5)
    p = p * z + _F(1 / 3)
    return _F(2.0) * (p * z * s + s)


@njit(**_J)
def _log1p01_64(t):
    return math.log1p(t)


log1p01_s = _dispatch("log1p01_s", _log1p01_32, _log1p01_64)
