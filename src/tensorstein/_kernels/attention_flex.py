"""Tiled attention in plain NumPy with user callables applied tile by tile.

``score_mod(score, b, h, q_idx, kv_idx) -> score'`` edits a tile of scaled
scores; ``mask_mod(b, h, q_idx, kv_idx) -> bool`` (broadcastable to the tile,
True = take part) removes entries.  ``q_idx`` has shape ``(bq, 1)`` and
``kv_idx`` ``(1, bk)`` (absolute int64 positions), ``b``/``h`` are ints.
Order per tile: scale, ``score_mod``, additive/bool ``mask``, causal/window
band and ``mask_mod`` (removed entries become ``-inf``).

For gradients through ``score_mod`` pass ``score_mod_vjp(score, b, h, q_idx,
kv_idx) -> (score', vjp)`` where ``vjp(g)`` maps the gradient w.r.t. ``score'``
to the gradient w.r.t. ``score`` (and may accumulate gradients of captured
parameters as a side effect).  The backward recomputes every tile's scores
and calls it again, so nothing of size L x S is stored.

Memory: O(N*d) plus one (bq, bk) tile at a time.
"""

from __future__ import annotations

import numpy as np

from .attention_common import col_range, index_mask, prepare, tile_needs_index_mask

__all__ = ["flex_attention_forward", "flex_attention_backward"]

BLOCK_Q = 128
BLOCK_K = 512


def _tile_keep(spec, b, h, i0, i1, j0, j1, mask_mod):
    """Boolean keep-tile from band + bool mask + mask_mod (None = all kept)."""
    keep = None
    if tile_needs_index_mask(spec, i0, i1, j0, j1):
        keep = index_mask(spec, i0, i1, j0, j1)
    if spec.mask is not None and spec.mask_is_bool:
        mt = spec.mask[b, h, i0:i1, j0:j1]
        keep = mt if keep is None else (keep & mt)
    if mask_mod is not None:
        qi = np.arange(i0, i1, dtype=np.int64)[:, None]
        ki = np.arange(j0, j1, dtype=np.int64)[None, :]
        mm = np.broadcast_to(np.asarray(mask_mod(b, h, qi, ki), dtype=bool), (i1 - i0, j1 - j0))
        keep = mm if keep is None else (keep & mm)
    return keep


def _scores(spec, qs, kT, b, h, hk, i0, i1, j0, j1, keep, mod):
    s = qs[b, h, i0:i1] @ kT[b, hk, :, j0:j1]
    vjp = None
    if mod is not None:
        qi = np.arange(i0, i1, dtype=np.int64)[:, None]
        ki = np.arange(j0, j1, dtype=np.int64)[None, :]
        res = mod(s, b, h, qi, ki)
        if isinstance(res, tuple):
            res, vjp = res
        s = np.asarray(res, dtype=spec.dtype)
        if s.shape != (i1 - i0, j1 - j0):
            s = np.broadcast_to(s, (i1 - i0, j1 - j0)).copy()
    if spec.mask is not None and not spec.mask_is_bool:
        s = s + spec.mask[b, h, i0:i1, j0:j1]
    if keep is not None:
        s = np.where(keep, s, spec.dtype.type(-np.inf))
    return s, vjp


def flex_attention_forward(q, k, v, *, scale=None, score_mod=None, mask_mod=None,
                           score_mod_vjp=None, causal=None, window=None, mask=None,
                           alignment=None, block_q=None, block_k=None):
    """Tiled forward with callables.  Returns ``(out, lse)``.

    Only one of ``score_mod`` / ``score_mod_vjp`` is needed (the latter's
    closure is ignored in the forward).
    """
    spec = prepare(q, k, v, scale=scale, causal=causal, window=window, mask=mask,
                   alignment=alignment)
    B, H, L, Ev, G, dt = spec.B, spec.H, spec.L, spec.Ev, spec.group, spec.dtype
    bq, bk = int(block_q or BLOCK_Q), int(block_k or BLOCK_K)
    mod = score_mod_vjp if score_mod_vjp is not None else score_mod
    qs = np.multiply(q, dt.type(spec.scale), dtype=dt)
    kT = np.swapaxes(k, -1, -2)
    out = np.zeros((B, H, L, Ev), dtype=dt)
    lse = np.full((B, H, L), -np.inf, dtype=dt)
    ninf = dt.type(-np.inf)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for b in range(B):
            for h in range(H):
                hk = h // G
                for i0 in range(0, L, bq):
                    i1 = min(i0 + bq, L)
                    ja, jb = col_range(spec, i0, i1)
                    m = np.full((i1 - i0, 1), ninf, dtype=dt)
                    lsum = np.zeros((i1 - i0, 1), dtype=dt)
                    acc = out[b, h, i0:i1]
                    for j0 in range(ja, jb, bk):
                        j1 = min(j0 + bk, jb)
                        keep = _tile_keep(spec, b, h, i0, i1, j0, j1, mask_mod)
                        if keep is not None and not keep.any():
                            continue
                        s, _ = _scores(spec, qs, kT, b, h, hk, i0, i1, j0, j1, keep, mod)
                        m_new = np.maximum(m, s.max(axis=1, keepdims=True))
                        m_safe = np.where(m_new == ninf, dt.type(0), m_new)
                        alpha = np.exp(m - m_safe)
                        p = np.exp(s - m_safe)
                        lsum = lsum * alpha + p.sum(axis=1, keepdims=True)
                        acc *= alpha
                        acc += p @ v[b, hk, j0:j1]
                        m = m_new
                    good = lsum > 0
                    acc /= np.where(good, lsum, dt.type(1))
                    acc[~good[:, 0]] = 0
                    lse[b, h, i0:i1] = np.where(good, m + np.log(np.where(good, lsum, 1)), ninf)[:, 0]
    return out, lse


def flex_attention_backward(q, k, v, out, lse, dout, *, scale=None, score_mod=None,
                            mask_mod=None, score_mod_vjp=None, causal=None, window=None,
                            mask=None, alignment=None, block_q=None, block_k=None):
    """Tiled backward.  Returns ``(dq, dk, dv)``.

    With a ``score_mod`` the gradient needs ``score_mod_vjp``; a plain
    ``score_mod`` is only accepted if it is known to be the identity on
    gradients (not checked), so prefer passing ``score_mod_vjp``.
    """
    if score_mod is not None and score_mod_vjp is None:
        raise ValueError("backward through score_mod needs score_mod_vjp")
    spec = prepare(q, k, v, scale=scale, causal=causal, window=window, mask=mask,
                   alignment=alignment)
    B, H, L, G, dt = spec.B, spec.H, spec.L, spec.group, spec.dtype
    bq, bk = int(block_q or BLOCK_Q), int(block_k or BLOCK_K)
    qs = np.multiply(q, dt.type(spec.scale), dtype=dt)
    kT = np.swapaxes(k, -1, -2)
    dout = np.asarray(dout, dtype=dt)
    Dvec = np.sum(dout * out, axis=-1)
    dq = np.zeros_like(qs)
    dk = np.zeros(k.shape, dtype=dt)
    dv = np.zeros(v.shape, dtype=dt)
    ninf = dt.type(-np.inf)
    with np.errstate(invalid="ignore", over="ignore"):
        for b in range(B):
            for h in range(H):
                hk = h // G
                for i0 in range(0, L, bq):
                    i1 = min(i0 + bq, L)
                    ja, jb = col_range(spec, i0, i1)
                    lse_t = lse[b, h, i0:i1, None]
                    dead = lse_t == ninf
                    lse_c = np.where(dead, dt.type(0), lse_t)
                    do_t = dout[b, h, i0:i1]
                    for j0 in range(ja, jb, bk):
                        j1 = min(j0 + bk, jb)
                        keep = _tile_keep(spec, b, h, i0, i1, j0, j1, mask_mod)
                        if keep is not None and not keep.any():
                            continue
                        s, vjp = _scores(spec, qs, kT, b, h, hk, i0, i1, j0, j1, keep,
                                         score_mod_vjp)
                        p = np.where(dead, dt.type(0), np.exp(s - lse_c))
                        dv[b, hk, j0:j1] += p.T @ do_t
                        dp = do_t @ v[b, hk, j0:j1].T
                        ds = p * (dp - Dvec[b, h, i0:i1, None])
                        if vjp is not None:
                            ds = np.asarray(vjp(ds), dtype=dt)
                            if keep is not None:
                                ds = np.where(keep, ds, dt.type(0))
                        dq[b, h, i0:i1] += ds @ k[b, hk, j0:j1]
                        dk[b, hk, j0:j1] += ds.T @ qs[b, h, i0:i1]
    dq *= dt.type(spec.scale)
    return dq, dk, dv
