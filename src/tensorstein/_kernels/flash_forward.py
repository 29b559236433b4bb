"""Flash attention forward: one strategy chosen per call.

* micro (float32, value head dim in ``GEOMETRY.head_dims``): whole query
  blocks are single nogil calls into :mod:`.flash_micro` (score micro-kernel
  on packed K panels with the softmax scale folded in, online softmax,
  P @ V micro-kernel accumulating into the output).  When the kv heads split
  evenly over the threads each thread makes one call for all of its heads
  (packing included); otherwise items are pulled dynamically and K is packed
  by the first item of each kv head.
* BLAS (any other case): ``np.matmul`` score and P @ V tiles around the
  :mod:`.flash_tiles` online-softmax kernel.

Work items are ``(batch, head, query block)``, longest first; each visits
only the key blocks its rows can see.

    >>> import numpy as np
    >>> q = k = v = np.ones((1, 1, 4, 64), np.float32)
    >>> out, lse = attention_forward(q, k, v, impl="flash")
    >>> out.shape, lse.shape
    ((1, 1, 4, 64), (1, 1, 4))
"""

from __future__ import annotations

import threading

import numpy as np

from .attention_common import col_range, prepare, run_workers, tile_needs_index_mask, use_math
from .attention_math import attention_math
from .attention_small import small_forward, takes
from .flash_micro import GEOMETRY, PANEL, ROWS, fwd_heads, fwd_item, pack_head, supports
from .flash_tiles import add_inplace, fwd_finalize, fwd_tile
from .parallel import get_num_threads

__all__ = ["attention_forward", "BLOCK_Q", "BLOCK_K", "SUB_Q"]

# a work item of BLOCK_Q rows runs in sub-blocks of SUB_Q rows so the score rows
# stay in L1/L2 between the score, softmax and P @ V passes (tuned on a 2-core
# Zen 4, re-tuned on a 2-core AVX-512 Xeon)
BLOCK_Q = 256
BLOCK_K = 1024
SUB_Q = 48
if SUB_Q % ROWS:  # pragma: no cover - a geometry edit must keep this true
    raise ValueError(f"SUB_Q {SUB_Q} must be a multiple of the micro-tile rows {ROWS}")


def _ceil(x: int, m: int) -> int:
    return -(-x // m) * m


def attention_forward(q, k, v, *, scale=None, causal=None, window=None, mask=None,
                      alignment=None, impl="auto", block_q=None, block_k=None, threads=None,
                      use_micro=True):
    """Attention forward.  Returns ``(out (B,H,L,Ev), lse (B,H,L))``.

    ``impl``: ``'flash'`` (tiled kernel), ``'math'`` (full score matrix) or
    ``'auto'`` (tiny problems: whole heads per call, :mod:`.attention_small`, else math);
    ``use_micro=False`` forces BLAS tiles.
    See :mod:`.attention_common` for the option semantics.
    """
    spec = prepare(q, k, v, scale=scale, causal=causal, window=window, mask=mask,
                   alignment=alignment)
    if use_math(spec, impl):
        if impl == "auto" and takes(spec):
            return small_forward(q, k, v, scale=spec.scale, causal=causal, window=window, mask=mask,
                                 alignment=alignment, threads=threads)
        return attention_math(q, k, v, scale=spec.scale, causal=causal, window=window,
                              mask=mask, alignment=alignment)
    bq = int(block_q or BLOCK_Q)
    bk = int(block_k or BLOCK_K)
    nthreads = int(threads or get_num_threads())
    micro = use_micro and spec.E > 0 and supports(spec.dtype, spec.Ev)
    run = _forward_micro if micro else _forward_blas
    return run(spec, q, k, v, bq, bk, nthreads)


def _items(spec, bq, align):
    """Work items ``(cost, b, h, i0, i1, j0, j1)``, longest first; ``j0`` rounded
    down to a multiple of ``align`` (the extra keys are masked)."""
    items = []
    for i0 in range(0, spec.L, bq):
        i1 = min(i0 + bq, spec.L)
        j0, j1 = col_range(spec, i0, i1)
        j0 = j0 // align * align
        cost = max(0, j1 - j0)
        items += [(cost, b, h, i0, i1, j0, j1) for b in range(spec.B) for h in range(spec.H)]
    items.sort(key=lambda t: -t[0])  # longest first for load balance
    return items


def _forward_blas(spec, q, k, v, bq, bk, nthreads):
    B, H, L, Ev, G, dt = spec.B, spec.H, spec.L, spec.Ev, spec.group, spec.dtype
    ninf, zero = dt.type(-np.inf), dt.type(0)
    mask, mask_is_bool, off, left, right = spec.mask, spec.mask_is_bool, spec.off, spec.left, spec.right
    qs = np.multiply(q, dt.type(spec.scale), dtype=dt)
    # K transposed once (O(N*d)): BLAS tiles run ~10% faster on (E, S) rows
    kT = np.ascontiguousarray(np.swapaxes(k, -1, -2))
    out = np.zeros((B, H, L, Ev), dtype=dt)
    lse = np.empty((B, H, L), dtype=dt)
    if L == 0:
        return out, lse

    def worker(its, tid):
        sflat = np.empty(bq * bk, dtype=dt)
        tflat = np.empty(bq * Ev, dtype=dt)
        m = np.empty(bq, dtype=dt)
        lsum = np.empty(bq, dtype=dt)
        for (_, b, h, i0, i1, ja, jb) in its:
            nr = i1 - i0
            hk = h // G
            q_blk = qs[b, h, i0:i1]
            acc = out[b, h, i0:i1]
            mm = m[:nr]
            ll = lsum[:nr]
            mm.fill(ninf)
            ll.fill(zero)
            tmp = tflat[: nr * Ev].reshape(nr, Ev)
            for j0 in range(ja, jb, bk):
                j1 = min(j0 + bk, jb)
                st = sflat[: nr * (j1 - j0)].reshape(nr, j1 - j0)
                np.matmul(q_blk, kT[b, hk, :, j0:j1], out=st)
                need = tile_needs_index_mask(spec, i0, i1, j0, j1)
                fwd_tile(st, mm, ll, acc, b, h, i0, j0, off, left, right, need, mask,
                         mask_is_bool, ninf, zero)
                if j0 == ja:
                    np.matmul(st, v[b, hk, j0:j1], out=acc)
                else:
                    np.matmul(st, v[b, hk, j0:j1], out=tmp)
                    add_inplace(acc, tmp)
            fwd_finalize(acc, mm, ll, lse[b, h, i0:i1], ninf, zero)

    run_workers(worker, _items(spec, bq, 1), nthreads)
    return out, lse


def _forward_micro(spec, q, k, v, bq, bk, nthreads):
    B, H, Hkv, L, S, E, Ev, G = spec.B, spec.H, spec.Hkv, spec.L, spec.S, spec.E, spec.Ev, spec.group
    dt = spec.dtype
    ninf, zero = dt.type(-np.inf), dt.type(0)
    mask, mask_is_bool, off, left, right = spec.mask, spec.mask_is_bool, spec.off, spec.left, spec.right
    bq, bk = _ceil(bq, ROWS), _ceil(bk, PANEL)
    Lp, Sp = _ceil(L, ROWS), _ceil(S, PANEL)
    # the softmax scale is folded into the packed keys (exact for the usual
    # power-of-two scales); Q is used in place when its rows need no padding
    if L == Lp and q.dtype == dt and q.flags.c_contiguous:
        qs = q
    else:
        qs = np.zeros((B, H, Lp, E), dtype=dt)  # rows padded to the micro-tile
        qs[:, :, :L] = q
    kp = np.empty((B, Hkv, Sp // PANEL, E, PANEL), dtype=dt)
    vc = np.ascontiguousarray(v, dtype=dt)
    sc = float(spec.scale)
    out = np.empty((B, H, L, Ev), dtype=dt)  # every work item zeroes its own rows
    lse = np.empty((B, H, L), dtype=dt)
    if L == 0:
        return out, lse
    items = _items(spec, bq, PANEL)

    def scratch():
        return (np.empty(bq, dtype=dt), np.empty(bq, dtype=dt), np.empty(bq * bk, dtype=dt),
                np.empty((bq, GEOMETRY.lanes), dtype=dt))

    units = B * Hkv
    if nthreads > 1 and units >= nthreads and units % nthreads == 0:
        # kv heads split evenly over the threads (every head costs the same):
        # one nogil call per thread packs its heads' keys and runs all their
        # query blocks -- no per-block Python dispatch / GIL traffic
        blocks = np.array(sorted({t[3:] for t in items}), dtype=np.int64)
        heads = np.array([(b, hk) for b in range(B) for hk in range(Hkv)], dtype=np.int64)
        per = units // nthreads

        def heads_worker(its, tid):
            m, lsum, sflat, rmax = scratch()
            for hs in its:
                fwd_heads(qs, k, kp, vc, out, lse, hs, blocks, G, sc, m, lsum, sflat, rmax, bk,
                          off, left, right, mask, mask_is_bool, ninf, zero, SUB_Q)

        run_workers(heads_worker, [heads[t * per:(t + 1) * per] for t in range(nthreads)], nthreads)
        return out, lse

    # K panels are packed lazily by the first work item of each kv head
    packed = [False] * units
    pack_locks = [threading.Lock() for _ in range(units)]

    def ensure_packed(b, hk):
        i = b * Hkv + hk
        if not packed[i]:
            with pack_locks[i]:
                if not packed[i]:
                    pack_head(k[b, hk], kp[b, hk], sc)
                    packed[i] = True

    def worker(its, tid):
        m, lsum, sflat, rmax = scratch()
        for (_, b, h, i0, i1, ja, jb) in its:
            nr = i1 - i0
            hk = h // G
            if jb > ja:
                ensure_packed(b, hk)
            fwd_item(qs[b, h, i0:i0 + _ceil(nr, ROWS)], kp[b, hk], vc[b, hk], out[b, h, i0:i1],
                     lse[b, h, i0:i1], m, lsum, sflat, rmax, nr, i0, ja, jb, bk, b, h, off,
                     left, right, mask, mask_is_bool, ninf, zero, SUB_Q)

    run_workers(worker, items, nthreads)
    return out, lse
