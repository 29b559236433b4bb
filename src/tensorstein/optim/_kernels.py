"""One-pass Adam/AdamW update (Numba): the same float32 operations, in the same order, as torch's
single-tensor Adam (``lerp_``, ``mul_``/``addcmul_``, ``sqrt``/``div``/``add_``, ``addcdiv_``), so the
result equals the multi-pass NumPy version bit for bit while reading each array once."""
from __future__ import annotations

import numpy as np

_KERNEL = None
_FAILED = False


def _build():
    from numba import njit

    @njit(cache=True, nogil=True)
    def adam_step(p, g, m, v, vmax, decay, w, one_minus_w, lerp_low, b2, c2, neg_step, bc2s, eps, amsgrad,
                  maximize):
        for i in range(p.size):
            gi = g[i]
            if maximize:
                gi = -gi
            pi = p[i]
            if decay != 1:
                pi = pi * decay
            mi = m[i]
            if lerp_low:
                mi = mi + w * (gi - mi)
            else:
                mi = gi - (gi - mi) * one_minus_w
            m[i] = mi
            vi = v[i] * b2 + c2 * gi * gi
            v[i] = vi
            if amsgrad:
                if vmax[i] < vi or vmax[i] != vmax[i]:
                    vmax[i] = vi
                vi = vmax[i]
            denom = np.sqrt(vi) / bc2s + eps
            p[i] = pi + neg_step * mi / denom

    return adam_step


def adam_kernel():
    """The compiled kernel, or None when Numba is unavailable."""
    global _KERNEL, _FAILED
    if _KERNEL is None and not _FAILED:
        try:
            _KERNEL = _build()
        except Exception:  # pragma: no cover - numba missing or broken
            _FAILED = True
    return _KERNEL
