"""One-pass Adam/AdamW update (Numba): the same float32 operations, in the same order, as torch's
single-tensor Adam (``lerp_``, ``mul_``/``addcmul_``, ``sqrt``/``div``/``add_``, ``addcdiv_``), so the
result equals the multi-pass NumPy version bit for bit while reading each array once.

``adam_plain`` (no amsgrad, no maximize) has no branch in its loops so that LLVM vectorises it (IEEE
``sqrt`` and division are exact in vector lanes too, and nothing is reassociated: the same bits);
``adam_step`` covers every option."""
from __future__ import annotations

import numpy as np

_KERNELS = None
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

    @njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
    def adam_plain(p, g, m, v, decay, w, one_minus_w, lerp_low, b2, c2, neg_step, bc2s, eps):
        # p * 1 is p exactly: the decay multiply needs no branch
        n = p.size
        if lerp_low:
            for i in range(n):
                gi = g[i]
                mi = m[i] + w * (gi - m[i])
                m[i] = mi
                vi = v[i] * b2 + c2 * gi * gi
                v[i] = vi
                p[i] = p[i] * decay + neg_step * mi / (np.sqrt(vi) / bc2s + eps)
        else:
            for i in range(n):
                gi = g[i]
                mi = gi - (gi - m[i]) * one_minus_w
                m[i] = mi
                vi = v[i] * b2 + c2 * gi * gi
                v[i] = vi
                p[i] = p[i] * decay + neg_step * mi / (np.sqrt(vi) / bc2s + eps)

    return adam_step, adam_plain


def _kernels():
    global _KERNELS, _FAILED
    if _KERNELS is None and not _FAILED:
        try:
            _KERNELS = _build()
        except Exception:  # pragma: no cover - numba missing or broken
            _FAILED = True
    return _KERNELS


def adam_kernel():
    """The compiled general kernel, or None when Numba is unavailable."""
    k = _kernels()
    return k[0] if k else None


def adam_plain_kernel():
    """The compiled kernel without amsgrad / maximize, or None when Numba is unavailable."""
    k = _kernels()
    return k[1] if k else None
