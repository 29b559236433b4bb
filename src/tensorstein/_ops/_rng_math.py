"""The floating-point arithmetic of torch's CPU samplers, replayed with NumPy so draws match bit for bit.

torch's float32 ``normal_`` of 16 or more contiguous elements runs the AVX2 Box-Muller kernel (Cephes-style
``log256_ps``/``sincos256_ps`` from ``avx_mathfun.h``, compiled by GCC with multiply-adds contracted to FMA);
its double paths call glibc's ``log``/``sin``/``cos`` (Python's ``math`` module calls the same functions).

>>> fma32(np.float32([0.5]), np.float32(3.0), np.float32(1.0))
array([2.5], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np

_F = np.float32


def fma32(a, b, c):
    """Fused ``a*b + c`` in float32: the float64 product of two float32 values is exact."""
    return (np.asarray(a, np.float64) * np.float64(b) + np.asarray(c, np.float64)).astype(np.float32)


def _split(a):
    t = a * 134217729.0  # 2**27 + 1, Veltkamp's split
    hi = t - (t - a)
    return hi, a - hi


def fma64(a, b, c):
    """Fused ``a*b + c`` in float64 from error-free transformations (Dekker's product, Knuth's sum)."""
    a = np.asarray(a, np.float64)
    b = np.float64(b)
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl  # a*b == p + e exactly
    s = p + c
    bb = s - p
    t = (p - (s - bb)) + (c - bb)                       # p + c == s + t exactly
    return s + (t + e)


# Cephes coefficients of avx_mathfun.h (float32 constants, as the C source rounds them)
_LOGP = [_F(v) for v in (7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1,
                         1.4249322787E-1, -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1)]
_Q1, _Q2, _SQRTHF = _F(-2.12194440e-4), _F(0.693359375), _F(0.707106781186547524)
_DP = [_F(-0.78515625), _F(-2.4187564849853515625e-4), _F(-3.77489497744594108e-8)]
_SINP = [_F(-1.9515295891E-4), _F(8.3321608736E-3), _F(-1.6666654611E-1)]
_COSP = [_F(2.443315711809948E-005), _F(-1.388731625493765E-003), _F(4.166664568298827E-002)]
_FOPI = _F(1.27323954473516)


def _log256(x):
    """``log256_ps`` for x in (0, 1]."""
    bits = x.view(np.uint32)
    e = ((bits >> 23).astype(np.int32) - 127).astype(np.float32) + _F(1)
    x = ((bits & np.uint32(0x807FFFFF)) | np.uint32(0x3F000000)).view(np.float32)
    mask = x < _SQRTHF
    tmp = np.where(mask, x, _F(0))
    x = x - _F(1)
    e = e - mask.astype(np.float32)
    x = x + tmp
    z = x * x
    y = fma32(np.full_like(x, _LOGP[0]), x, _LOGP[1])
    for p in _LOGP[2:]:
        y = fma32(y, x, p)
    y = y * x
    y = (y.astype(np.float64) * z + (e * _Q1)).astype(np.float32)
    y = fma32(-z, _F(0.5), y)
    x = x + y
    return fma32(e, _Q2, x)


def _sincos256(x):
    """``sincos256_ps`` for x >= 0."""
    j = (x * _FOPI).astype(np.int32)
    j = (j + 1) & ~1
    y = j.astype(np.float32)
    for d in _DP:
        x = fma32(y, d, x)
    swap_sin = (j & 4) != 0
    poly = (j & 2) == 0
    neg_cos = (~(j - 2) & 4) != 0
    z = x * x
    yc = fma32(fma32(np.full_like(z, _COSP[0]), z, _COSP[1]), z, _COSP[2]) * z
    yc = (yc.astype(np.float64) * z - (z * _F(0.5))).astype(np.float32) + _F(1)
    ys = fma32(fma32(np.full_like(z, _SINP[0]), z, _SINP[1]), z, _SINP[2]) * z
    ys = fma32(ys, x, x)
    s = np.where(poly, ys, yc)
    c = np.where(poly, yc, ys)
    return np.where(swap_sin, -s, s), np.where(neg_cos, -c, c)


def box_muller16_f32(u, mean, std):
    """torch's ``normal_fill_16_AVX2`` over rows of 16 float32 uniforms: (K, 16) -> (K, 16)."""
    radius = np.sqrt(_F(-2) * _log256(_F(1) - u[:, :8]))
    s, c = _sincos256(_F(2 * math.pi) * u[:, 8:])
    out = np.empty_like(u)
    out[:, :8] = fma32(radius * c, _F(std), _F(mean))
    out[:, 8:] = fma32(radius * s, _F(std), _F(mean))
    return out


_LOG = np.frompyfunc(math.log, 1, 1)
_LOG1P = np.frompyfunc(math.log1p, 1, 1)
_SIN = np.frompyfunc(math.sin, 1, 1)
_COS = np.frompyfunc(math.cos, 1, 1)


def libm(fn, x):
    """glibc's double ``log``/``log1p``/``sin``/``cos`` element-wise (NumPy's SIMD versions differ in the last bit)."""
    return fn(x).astype(np.float64)


def box_muller16_f64(u, mean, std):
    """torch's scalar ``normal_fill_16<double>`` over rows of 16 uniforms: (K, 16) -> (K, 16)."""
    radius = np.sqrt(-2.0 * libm(_LOG, 1.0 - u[:, :8]))
    theta = 2.0 * math.pi * u[:, 8:]
    out = np.empty_like(u)
    out[:, :8] = fma64(radius * libm(_COS, theta), std, mean)
    out[:, 8:] = fma64(radius * libm(_SIN, theta), std, mean)
    return out
