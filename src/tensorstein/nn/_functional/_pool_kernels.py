"""Max pooling (2-D; 1-D runs as 2-D) as Numba passes, planes split over the cores: one pass for
the maxima and their indices (torch's rule: a larger value or a NaN takes the place), one scatter-add
for the gradient. ``pooling._max_pool``'s NumPy path (strided view, argmax, bincount) is the oracle.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..._kernels.elementwise_engine import map_rows

_J = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}


@njit(**_J)
def _fwd(q0, q1, xp, vals, idx, KH, KW, sh, sw, dh, dw, ph, pw, W):
    """xp (NC, HP, WP) padded with -inf -> vals, idx (NC, OH, OW); idx indexes the unpadded H*W plane."""
    _, OH, OW = vals.shape
    for q in range(q0, q1):
        for oh in range(OH):
            for ow in range(OW):
                h0, w0 = oh * sh, ow * sw
                best = xp[q, h0, w0]
                bh, bw = 0, 0
                for kh in range(KH):
                    row = xp[q, h0 + kh * dh]
                    for kw in range(KW):
                        v = row[w0 + kw * dw]
                        if v > best or np.isnan(v):
                            best, bh, bw = v, kh, kw
                vals[q, oh, ow] = best
                idx[q, oh, ow] = (h0 - ph + bh * dh) * W + (w0 - pw + bw * dw)


@njit(**_J)
def _bwd(q0, q1, g, idx, gx):
    """gx (NC, H*W) (zeroed) += g (NC, L) at idx (NC, L)."""
    for q in range(q0, q1):
        for j in range(g.shape[1]):
            gx[q, idx[q, j]] += g[q, j]


def max_pool2d(xp, k, s, d, p, out, w):
    """xp (N, C, HP, WP) padded -> (vals (N, C, OH, OW), idx int64 into the unpadded H*W plane)."""
    n, c = xp.shape[:2]
    x3 = np.ascontiguousarray(xp).reshape((n * c,) + xp.shape[2:])
    vals = np.empty((n * c,) + tuple(out), xp.dtype)
    idx = np.empty((n * c,) + tuple(out), np.int64)
    map_rows(_fwd, n * c, x3[0].size, x3, vals, idx, k[0], k[1], s[0], s[1], d[0], d[1], p[0], p[1], w)
    return vals.reshape((n, c) + tuple(out)), idx.reshape((n, c) + tuple(out))


def max_pool2d_backward(g, idx, nc, hw):
    """g, idx (NC, L) -> gx (NC, H*W) in g's dtype."""
    gx = np.zeros((nc, hw), g.dtype)
    g, idx = np.ascontiguousarray(g), np.ascontiguousarray(idx)
    map_rows(_bwd, nc, g.shape[1], g, idx, gx)
    return gx
