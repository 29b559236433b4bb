"""The LSTM backward's element-wise work per time step fused into one Numba pass (instead of ~15
NumPy passes); the recurrent GEMMs stay in BLAS. ``rnn._lstm_backward`` with NumPy is its oracle.
(The forward keeps NumPy: its exp/tanh are SIMD there, a scalar-exp Numba loop was slower.)
"""
from __future__ import annotations

from numba import njit

from ..._kernels.fast_exp import FASTMATH


@njit(fastmath=FASTMATH, cache=True, nogil=True, boundscheck=False)
def cell_backward(a, c_prev, tc, dh, dc, d, one):
    """Gate gradients d (B, 4H) from dh (B, H) and the running dc (updated to dc * f in place)."""
    B, G = a.shape
    H = G // 4
    for b in range(B):
        for j in range(H):
            i, f, g, o = a[b, j], a[b, H + j], a[b, 2 * H + j], a[b, 3 * H + j]
            t = tc[b, j]
            dhv = dh[b, j]
            dcv = dc[b, j] + dhv * o * (one - t * t)
            d[b, 3 * H + j] = dhv * t * o * (one - o)
            d[b, j] = dcv * g * i * (one - i)
            d[b, H + j] = dcv * c_prev[b, j] * f * (one - f)
            d[b, 2 * H + j] = dcv * i * (one - g * g)
            dc[b, j] = dcv * f
