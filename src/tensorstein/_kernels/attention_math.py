"""Plain "math" attention on NumPy arrays: the full score matrix.

The test oracle and the fallback for small problems.  Same options and
conventions as :mod:`.flash_attention` (see :mod:`.attention_common`).
"""

from __future__ import annotations

import numpy as np

from .attention_common import index_mask, prepare

__all__ = ["attention_math", "attention_math_backward"]


def _scores(q, k, spec):
    B, H, Hkv, L, S, E, G = spec.B, spec.H, spec.Hkv, spec.L, spec.S, spec.E, spec.group
    qg = (q * np.asarray(spec.scale, dtype=q.dtype)).reshape(B, Hkv, G, L, E)
    s = np.matmul(qg, np.swapaxes(k, -1, -2)[:, :, None])  # (B, Hkv, G, L, S)
    s = s.reshape(B, H, L, S)
    ninf = np.asarray(-np.inf, dtype=s.dtype)
    if spec.banded:
        s = np.where(index_mask(spec, 0, L, 0, S), s, ninf)
    if spec.mask is not None:
        if spec.mask_is_bool:
            s = np.where(spec.mask, s, ninf)
        else:
            s = s + spec.mask
    return s


def _group_v(p, v, spec):
    B, H, Hkv, L, S, G = spec.B, spec.H, spec.Hkv, spec.L, spec.S, spec.group
    return np.matmul(p.reshape(B, Hkv, G, L, S), v[:, :, None]).reshape(B, H, L, v.shape[-1])


def attention_math(q, k, v, *, scale=None, causal=None, window=None, mask=None,
                   alignment=None):
    """Reference attention.  Returns ``(out (B,H,L,Ev), lse (B,H,L))``."""
    spec = prepare(q, k, v, scale=scale, causal=causal, window=window, mask=mask,
                   alignment=alignment)
    s = _scores(q, k, spec)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = s.max(axis=-1, keepdims=True) if spec.S > 0 else np.full(s.shape[:-1] + (1,), -np.inf, s.dtype)
        m_safe = np.where(np.isfinite(m), m, 0).astype(s.dtype)
        p = np.exp(s - m_safe)
        lsum = p.sum(axis=-1, keepdims=True)
        out = _group_v(p, v, spec)
        good = lsum > 0
        out = np.where(good, out / np.where(good, lsum, 1), 0).astype(q.dtype)
        lse = np.where(good, m_safe + np.log(np.where(good, lsum, 1)), -np.inf)[..., 0]
    return out, lse.astype(q.dtype)


def attention_math_backward(q, k, v, out, lse, dout, *, scale=None, causal=None, window=None,
                            mask=None, alignment=None):
    """Reference backward from the saved ``lse``.  Returns ``(dq, dk, dv)``."""
    spec = prepare(q, k, v, scale=scale, causal=causal, window=window, mask=mask,
                   alignment=alignment)
    B, H, Hkv, L, S, E, G = spec.B, spec.H, spec.Hkv, spec.L, spec.S, spec.E, spec.group
    s = _scores(q, k, spec)
    with np.errstate(invalid="ignore", over="ignore"):
        lse_c = lse[..., None]
        p = np.where(np.isfinite(lse_c), np.exp(s - np.where(np.isfinite(lse_c), lse_c, 0)), 0)
        p = p.astype(q.dtype)
    D = np.sum(dout * out, axis=-1, keepdims=True)
    dv = np.matmul(np.swapaxes(p, -1, -2).reshape(B, Hkv, G, S, L),
                   dout.reshape(B, Hkv, G, L, -1)).sum(axis=2)
    dp = np.matmul(dout.reshape(B, Hkv, G, L, -1), np.swapaxes(v, -1, -2)[:, :, None])
    ds = p * (dp.reshape(B, H, L, S) - D)
    dq = np.matmul(ds.reshape(B, Hkv, G, L, S), k[:, :, None]).reshape(B, H, L, E) * spec.scale
    dk = np.matmul(np.swapaxes(ds, -1, -2).reshape(B, Hkv, G, S, L),
                   q.reshape(B, Hkv, G, L, E)).sum(axis=2) * spec.scale
    return dq.astype(q.dtype), dk.astype(q.dtype), dv.astype(q.dtype)
