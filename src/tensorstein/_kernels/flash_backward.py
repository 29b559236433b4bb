"""Flash attention backward (FlashAttention-2 style).

Recomputes the probability tiles from the saved log-sum-exp,
``D = rowsum(dout * out)``, ``dS = P * (dP - D)``; work items are kv blocks
(dK / dV summed over the query heads of a GQA group).  One tile-step
strategy is chosen per call:

* micro (float32, both head dims in ``GEOMETRY.head_dims``): ``S = Q K^T`` and
  ``dP = dO V^T`` on the score micro-kernel (K, V packed in key panels, Q / dO
  rows padded), ``dV += P^T dO``, ``dK += dS^T Q`` and ``dQ += dS K`` on the
  P @ V micro-kernel;
* BLAS: the five products as ``np.matmul`` tiles.

    >>> import numpy as np
    >>> from tensorstein._kernels.flash_forward import attention_forward
    >>> q = k = v = do = np.ones((1, 1, 4, 64), np.float32)
    >>> out, lse = attention_forward(q, k, v, impl="flash")
    >>> [g.shape for g in attention_backward(q, k, v, out, lse, do, impl="flash")]
    [(1, 1, 4, 64), (1, 1, 4, 64), (1, 1, 4, 64)]
"""

from __future__ import annotations

import numpy as np

from .attention_common import prepare, row_range, run_workers, tile_needs_index_mask, use_math
from .attention_math import attention_math_backward
from .attention_small import small_backward, takes
from .flash_micro import GEOMETRY, PANEL, ROWS, pack_head, ptv_tile, pv_tile, qk_tile, scale_head, supports
from .flash_tiles import add_inplace, bwd_dscores, bwd_probs, rowdot
from .parallel import get_num_threads

__all__ = ["attention_backward", "BLOCK_Q", "BLOCK_K"]

BLOCK_Q = 512
BLOCK_K = 128
_FAR = 1 << 60  # "no right band edge" for the micro drivers


def _ceil(x: int, m: int) -> int:
    return -(-x // m) * m


def attention_backward(q, k, v, out, lse, dout, *, scale=None, causal=None, window=None,
                       mask=None, alignment=None, impl="auto", block_q=None, block_k=None,
                       threads=None, use_micro=True):
    """Attention backward from the forward's ``out`` and ``lse``.

    Returns ``(dq, dk, dv)`` shaped like ``q, k, v``.
    """
    spec = prepare(q, k, v, scale=scale, causal=causal, window=window, mask=mask,
                   alignment=alignment)
    if use_math(spec, impl):
        if impl == "auto" and takes(spec):
            return small_backward(q, k, v, out, lse, dout, scale=spec.scale, causal=causal, window=window,
                                  mask=mask, alignment=alignment, threads=threads)
        return attention_math_backward(q, k, v, out, lse, dout, scale=spec.scale, causal=causal,
                                       window=window, mask=mask, alignment=alignment)
    B, H, Hkv, L, S, E, Ev, G = spec.B, spec.H, spec.Hkv, spec.L, spec.S, spec.E, spec.Ev, spec.group
    dt = spec.dtype
    nthreads = int(threads or get_num_threads())
    dout = np.asarray(dout, dtype=dt)
    steps_cls = _MicroSteps if use_micro and supports(dt, E, Ev) else _BlasSteps
    steps = steps_cls(spec, q, k, v, lse, dout, int(block_q or BLOCK_Q), int(block_k or BLOCK_K),
                      nthreads)
    Dvec = np.empty((B, H, L), dtype=dt)
    rowdot(np.ascontiguousarray(dout), np.ascontiguousarray(out, dtype=dt), Dvec)
    dq = np.zeros((B, H, L, E), dtype=dt)
    dk = np.zeros((B, Hkv, S, E), dtype=dt)
    dv = np.zeros((B, Hkv, S, Ev), dtype=dt)
    if L == 0 or S == 0:
        return dq, dk, dv

    bq, bk = steps.bq, steps.bk
    kv_blocks = [(j0, min(j0 + bk, S)) for j0 in range(0, S, bk)]
    # one item per (b, kv head) owns dq of its query heads -> no races; with too
    # few of them, split kv blocks too and give every thread a private dq.
    per_head = B * Hkv >= 2 * nthreads or nthreads == 1
    if per_head:
        items = [(b, hk, kv_blocks) for b in range(B) for hk in range(Hkv)]
        dq_bufs = [dq] * nthreads
    else:
        items = [(b, hk, [jb]) for jb in kv_blocks for b in range(B) for hk in range(Hkv)]
        # rough longest-first ordering: kv blocks seen by most rows first
        items.sort(key=lambda t: -(lambda r: r[1] - r[0])(row_range(spec, *t[2][0])))
        dq_bufs = [dq] + [np.zeros_like(dq) for _ in range(nthreads - 1)]

    def worker(its, tid):
        dqb = dq_bufs[tid]
        scratch = steps.scratch()
        for (b, hk, blocks) in its:
            for (j0, j1) in blocks:
                ra, rb = row_range(spec, j0, j1)
                for h in range(hk * G, (hk + 1) * G):
                    for i0 in range(ra, rb, bq):
                        i1 = min(i0 + bq, rb)
                        steps.tile(scratch, b, hk, h, i0, i1, j0, j1, Dvec[b, h, i0:i1],
                                   dk[b, hk, j0:j1], dv[b, hk, j0:j1], dqb[b, h, i0:i1])

    run_workers(worker, items, nthreads)
    if not per_head:
        for extra in dq_bufs[1:]:
            dq += extra
    dq *= dt.type(spec.scale)
    return dq, dk, dv


class _BlasSteps:
    """Tile steps on ``np.matmul``; Q is pre-scaled."""

    def __init__(self, spec, q, k, v, lse, dout, bq, bk, nthreads):
        self.spec, self.k, self.v, self.lse, self.dout = spec, k, v, lse, dout
        self.bq, self.bk = bq, bk
        self.qs = np.multiply(q, spec.dtype.type(spec.scale), dtype=spec.dtype)

    def scratch(self):
        s, dt = self.spec, self.spec.dtype
        return (np.empty(self.bq * self.bk, dtype=dt), np.empty(self.bq * self.bk, dtype=dt),
                np.empty(self.bk * max(s.E, s.Ev), dtype=dt), np.empty(self.bq * s.E, dtype=dt))

    def tile(self, scratch, b, hk, h, i0, i1, j0, j1, dvec, dk_blk, dv_blk, dq_blk):
        s = self.spec
        sflat, pflat, tk, tq = scratch
        nr, nc = i1 - i0, j1 - j0
        q_blk, do_blk = self.qs[b, h, i0:i1], self.dout[b, h, i0:i1]
        k_blk, v_blk = self.k[b, hk, j0:j1], self.v[b, hk, j0:j1]
        st = sflat[: nr * nc].reshape(nr, nc)
        dpt = pflat[: nr * nc].reshape(nr, nc)
        np.matmul(q_blk, k_blk.T, out=st)
        bwd_probs(st, self.lse[b, h, i0:i1], b, h, i0, j0, s.off, s.left, s.right,
                  tile_needs_index_mask(s, i0, i1, j0, j1), s.mask, s.mask_is_bool,
                  s.dtype.type(-np.inf), s.dtype.type(0))
        tdv = tk[: nc * s.Ev].reshape(nc, s.Ev)
        np.matmul(st.T, do_blk, out=tdv)
        add_inplace(dv_blk, tdv)
        np.matmul(do_blk, v_blk.T, out=dpt)
        bwd_dscores(st, dpt, dvec)
        tdk = tk[: nc * s.E].reshape(nc, s.E)
        np.matmul(dpt.T, q_blk, out=tdk)
        add_inplace(dk_blk, tdk)
        tdq = tq[: nr * s.E].reshape(nr, s.E)
        np.matmul(dpt, k_blk, out=tdq)
        add_inplace(dq_blk, tdq)


class _MicroSteps:
    """Tile steps on the float32 micro-kernels: Q (pre-scaled) and dO rows padded
    to the micro-tile rows, K and V packed in key panels (in parallel, once)."""

    def __init__(self, spec, q, k, v, lse, dout, bq, bk, nthreads):
        B, H, Hkv, L, S, E, Ev = spec.B, spec.H, spec.Hkv, spec.L, spec.S, spec.E, spec.Ev
        dt = spec.dtype
        self.spec, self.lse = spec, lse
        self.bq, self.bk = _ceil(bq, ROWS), _ceil(bk, PANEL)
        Lp, Sp = _ceil(L, ROWS), _ceil(S, PANEL)
        self.qs = np.empty((B, H, Lp, E), dtype=dt)
        self.dop = np.empty((B, H, Lp, Ev), dtype=dt)
        self.kp = np.empty((B, Hkv, Sp // PANEL, E, PANEL), dtype=dt)
        self.vp = np.empty((B, Hkv, Sp // PANEL, Ev, PANEL), dtype=dt)
        self.kc = np.ascontiguousarray(k, dtype=dt)
        sc = dt.type(spec.scale)
        prep = [(0, b, h) for b in range(B) for h in range(H)]
        prep += [(1, b, h) for b in range(B) for h in range(Hkv)]

        def prep_worker(its, tid):
            for (kind, b, h) in its:
                if kind == 0:
                    scale_head(q[b, h], sc, self.qs[b, h])
                    scale_head(dout[b, h], dt.type(1), self.dop[b, h])
                else:
                    pack_head(k[b, h], self.kp[b, h])
                    pack_head(v[b, h], self.vp[b, h])

        run_workers(prep_worker, prep, nthreads)

    def scratch(self):
        dt = self.spec.dtype
        return (np.empty(self.bq * self.bk, dtype=dt), np.empty(self.bq * self.bk, dtype=dt),
                np.empty((self.bq, GEOMETRY.lanes), dtype=dt))

    def tile(self, scratch, b, hk, h, i0, i1, j0, j1, dvec, dk_blk, dv_blk, dq_blk):
        s = self.spec
        sflat, pflat, rmax = scratch
        nr, nc = i1 - i0, j1 - j0
        nr8, ncp = _ceil(nr, ROWS), _ceil(nc, PANEL)
        stp = sflat[: nr8 * ncp].reshape(nr8, ncp)
        dpp = pflat[: nr8 * ncp].reshape(nr8, ncp)
        hi0 = i0 + s.off + s.right - j0 + 1  # row r sees columns < hi0 + r
        qk_tile(self.qs[b, h, i0:i0 + nr8], self.kp[b, hk], j0 // PANEL, stp, hi0, rmax[:nr8])
        st = stp[:nr, :nc]
        # padding keys (nc < ncp) are masked like band-removed ones
        need = nc != ncp or tile_needs_index_mask(s, i0, i1, j0, j1)
        bwd_probs(st, self.lse[b, h, i0:i1], b, h, i0, j0, s.off, s.left, s.right, need,
                  s.mask, s.mask_is_bool, s.dtype.type(-np.inf), s.dtype.type(0))
        ptv_tile(stp, nr, nc, self.dop[b, h], i0, dv_blk)
        # no panel skipping: dP must be finite everywhere
        qk_tile(self.dop[b, h, i0:i0 + nr8], self.vp[b, hk], j0 // PANEL, dpp, _FAR, rmax[:nr8])
        bwd_dscores(st, dpp[:nr, :nc], dvec)
        ptv_tile(dpp, nr, nc, self.qs[b, h], i0, dk_blk)
        pv_tile(dpp, nc, self.kc[b, hk], j0, dq_blk, _FAR)
