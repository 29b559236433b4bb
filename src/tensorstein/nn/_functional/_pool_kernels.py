"""Max pooling (2-D; 1-D runs as 2-D) as Numba passes, planes split over the thread pool: one pass for
the maxima and their indices (torch's rule: a larger value or a NaN takes the place), one scatter-add
for the gradient. ``pooling._max_pool``'s NumPy path (strided view, argmax, bincount) is the oracle.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..._kernels.parallel import parallel_chunks

_J = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}


@njit(**_J)
def _fwd(xp, vals, idx, q0, q1, KH, KW, sh, sw, dh, dw, ph, pw, W):
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
def _bwd(g, idx, gx, q0, q1):
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
    parallel_chunks(lambda a, b: _fwd(x3, vals, idx, a, b, k[0], k[1], s[0], s[1], d[0], d[1], p[0], p[1], w),
                    n * c, 16)
    return vals.reshape((n, c) + tuple(out)), idx.reshape((n, c) + tuple(out))


def max_pool2d_backward(g, idx, nc, hw):
    """g, idx (NC, L) -> gx (NC, H*W) in g's dtype."""
    gx = np.zeros((nc, hw), g.dtype)
    g, idx = np.ascontiguousarray(g), np.ascontiguousarray(idx)
    parallel_chunks(lambda a, b: _bwd(g, idx, gx, a, b), nc, 16)
    return gx
