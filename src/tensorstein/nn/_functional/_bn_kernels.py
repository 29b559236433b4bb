"""Training-mode batch norm over (N, C, L) as Numba passes, channels split over the cores: the
statistics (float64 accumulators), xhat and the affine output in one call, and the backward's two
channel sums and the input gradient in another. ``batchnorm._normalize`` / ``_norm_backward`` (NumPy)
are the oracle.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..._kernels.fast_exp import FASTMATH
from ..._kernels.elementwise_engine import map_rows

_J = {"fastmath": FASTMATH, "cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}


@njit(**_J)
def _fwd(c0, c1, x, w, b, eps, mean, var, rstd, xhat, out):
    N, _, L = x.shape
    cnt = N * L
    for c in range(c0, c1):
        s = 0.0
        for n in range(N):
            row = x[n, c]
            for j in range(L):
                s += row[j]
        m = s / cnt
        q = 0.0
        for n in range(N):
            row = x[n, c]
            for j in range(L):
                d = row[j] - m
                q += d * d
        v = q / cnt
        r = 1.0 / np.sqrt(v + eps)
        mean[c], var[c], rstd[c] = m, v, r
        mc, rc, wc, bc = x.dtype.type(m), x.dtype.type(r), w[c], b[c]
        for n in range(N):
            row, xr, orow = x[n, c], xhat[n, c], out[n, c]
            for j in range(L):
                h = (row[j] - mc) * rc
                xr[j] = h
                orow[j] = h * wc + bc


@njit(**_J)
def _bwd(c0, c1, g, xhat, w, rstd, gx, gw, gb):
    N, _, L = g.shape
    cnt = N * L
    for c in range(c0, c1):
        sg = 0.0
        sgx = 0.0
        for n in range(N):
            grow, xr = g[n, c], xhat[n, c]
            for j in range(L):
                sg += grow[j]
                sgx += grow[j] * xr[j]
        gb[c], gw[c] = sg, sgx
        k = g.dtype.type(w[c] * rstd[c])
        m1, m2 = g.dtype.type(sg / cnt), g.dtype.type(sgx / cnt)
        for n in range(N):
            grow, xr, orow = g[n, c], xhat[n, c], gx[n, c]
            for j in range(L):
                orow[j] = k * (grow[j] - m1 - xr[j] * m2)


def forward(x3, w, b, eps):
    """x3 (N, C, L) contiguous -> (out, xhat, mean (C,) f64, var (C,) f64, rstd (C,) f64)."""
    c = x3.shape[1]
    mean, var, rstd = np.empty(c), np.empty(c), np.empty(c)
    xhat, out = np.empty_like(x3), np.empty_like(x3)
    w = np.ones(c, x3.dtype) if w is None else np.ascontiguousarray(w, dtype=x3.dtype)
    b = np.zeros(c, x3.dtype) if b is None else np.ascontiguousarray(b, dtype=x3.dtype)
    map_rows(_fwd, c, x3.shape[0] * x3.shape[2], x3, w, b, float(eps), mean, var, rstd, xhat, out)
    return out, xhat, mean, var, rstd


def backward(g3, xhat, w, rstd):
    """-> (gx (N, C, L), gw (C,), gb (C,)) with gw/gb in g's dtype."""
    c = g3.shape[1]
    g3 = np.ascontiguousarray(g3)
    gx = np.empty_like(g3)
    gw, gb = np.empty(c), np.empty(c)
    w = np.ones(c, g3.dtype) if w is None else np.ascontiguousarray(w, dtype=g3.dtype)
    map_rows(_bwd, c, g3.shape[0] * g3.shape[2], g3, xhat, w, rstd, gx, gw, gb)
    return gx, gw.astype(g3.dtype), gb.astype(g3.dtype)
