"""Numba kernels behind ``_masked_softmax`` and the no-autograd ``layer_norm``.

Imported on first use only (keeps ``import tensorstein.nn`` free of Numba). Flat or (B, H, L, S) arrays;
``nogil`` so batches on the thread pool run them concurrently.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..._kernels.fast_exp import FASTMATH, exp_sub_sum


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
