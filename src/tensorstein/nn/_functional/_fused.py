"""Numba kernels behind ``gelu`` (exact, float32 by a rational erf), ``_masked_softmax`` and the
no-autograd ``layer_norm``.

Imported on first use only (keeps ``import tensorstein.nn`` free of Numba). Flat or (B, H, L, S) arrays;
``nogil`` so batches on the thread pool run them concurrently.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..._kernels.fast_exp import FASTMATH, exp_sub_sum

# erf(x) ~= x P(x^2) / Q(x^2) on [-4, 4] (float32 erf is +-1 beyond): max error ~3e-7 (Eigen's fast_erf)
P0, P1, P2, P3, P4, P5, P6 = (np.float32(c) for c in (
    -2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
    -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02))
Q0, Q1, Q2, Q3, Q4 = (np.float32(c) for c in (
    -1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
    -1.42647390514189e-02))
FOUR, HALF, ONE, SQRT1_2 = np.float32(4.0), np.float32(0.5), np.float32(1.0), np.float32(0.7071067811865476)


@njit(fastmath=FASTMATH, inline="always", error_model="numpy", cache=True)
def _phi32(v):
    """(1 + erf(v / sqrt 2)) / 2, the normal CDF, in float32."""
    a = min(max(v * SQRT1_2, -FOUR), FOUR)
    a2 = a * a
    p = ((((((a2 * P0 + P1) * a2 + P2) * a2 + P3) * a2 + P4) * a2 + P5) * a2 + P6) * a
    q = (((a2 * Q0 + Q1) * a2 + Q2) * a2 + Q3) * a2 + Q4
    return HALF * (ONE + p / q)


@njit(fastmath=FASTMATH, nogil=True, cache=True, error_model="numpy")
def gelu_f32(x, out):
    """out = x * Phi(x) on flat float32 arrays."""
    for i in range(x.size):
        out[i] = x[i] * _phi32(x[i])


@njit(fastmath=FASTMATH, nogil=True, cache=True, error_model="numpy")
def gelu_cdf_f32(x, out, cdf):
    """out = x * Phi(x) and cdf = Phi(x) (kept for the backward) on flat float32 arrays."""
    for i in range(x.size):
        c = _phi32(x[i])
        cdf[i] = c
        out[i] = x[i] * c


@njit(nogil=True, cache=True)
def gelu_cdf_f64(x, out, cdf):
    """float64: the exact ``math.erf``."""
    for i in range(x.size):
        c = 0.5 * (1.0 + math.erf(x[i] * 0.7071067811865476))
        cdf[i] = c
        out[i] = x[i] * c


@njit(fastmath=FASTMATH, nogil=True, cache=True, error_model="numpy")
def masked_softmax(x, mask, out):
    """Row softmax of (B, H, L, S) ``x`` with ``mask`` (bool, True = masked out, a broadcast view of x's
    shape) into contiguous ``out``; masked entries are -inf, rows with every entry masked give zeros."""
    b, h, lq, lk = x.shape
    ninf = x.dtype.type(-np.inf)
    for bi in range(b):
        for hi in range(h):
            for qi in range(lq):
                row = out[bi, hi, qi]
                xr = x[bi, hi, qi]
                mr = mask[bi, hi, qi]
                m = ninf
                for j in range(lk):
                    v = ninf if mr[j] else xr[j]
                    row[j] = v
                    m = max(m, v)
                if m == ninf:
                    row[:] = 0
                    continue
                row *= 1 / exp_sub_sum(row, m)


@njit(fastmath=FASTMATH, nogil=True, cache=True, error_model="numpy")
def layer_norm_rows(x, x_bias, residual, weight, bias, eps, out):
    """LayerNorm of each row of (N, C) ``x + x_bias + residual`` into ``out``; ``x_bias``, ``weight``, ``bias``
    (C,); ``residual`` (N, C) or (0, C) for none."""
    n, c = x.shape
    has_res = residual.shape[0] == n
    inv_c = x.dtype.type(1.0) / c
    for i in range(n):
        xr = x[i]
        o = out[i]
        s = x.dtype.type(0.0)
        if has_res:
            rr = residual[i]
            for j in range(c):
                v = xr[j] + x_bias[j] + rr[j]
                o[j] = v
                s += v
        else:
            for j in range(c):
                v = xr[j] + x_bias[j]
                o[j] = v
                s += v
        mean = s * inv_c
        ss = x.dtype.type(0.0)
        for j in range(c):
            d = o[j] - mean
            o[j] = d
            ss += d * d
        rstd = x.dtype.type(1.0) / np.sqrt(ss * inv_c + eps)
        for j in range(c):
            o[j] = o[j] * rstd * weight[j] + bias[j]
