"""Memory-efficient (FlashAttention-2 style) attention on NumPy arrays.

Forward: work items are ``(batch, head, query block)``; each walks the key
blocks that its rows can see (blocks removed entirely by causal/window are
never visited, nor key panels past the causal edge of an 8-row group),
computes the score tile, and folds it into a running
row max / row sum / output accumulator with a Numba kernel (online softmax,
one final division).  Within an item each key block is applied to 48-row
sub-blocks (scores stay cache-resident; a sub-block visits only the keys its
rows see).  The softmax scale is folded into the packed keys (Q is used in
place).  When the kv heads split evenly over the threads, each thread makes
one nogil call for all of its heads (packing included); otherwise items are
pulled dynamically and K is packed by the first item of each head.  Extra
memory is O(N*d) plus a few tiles per thread.

Backward: recomputes the probability tiles from the saved log-sum-exp,
``D = rowsum(dout * out)``, ``dS = P * (dP - D)``; work items are kv blocks
(dk/dv summed over the query heads of a GQA group).

GEMMs: for float32 with head dims 64 (value dim 64 in the forward) the tile
products run on register-blocked micro-kernels written as LLVM IR on 16-lane
vectors (``_qk_micro``: 8 rows x 32 keys, K / V packed once per head into
32-key panels; ``_pv_micro``: 6 rows x 64 outputs accumulating in place, also
reading P transposed for dK / dV).  On the 2-core AVX-512 box they reach
~160-185 GFLOP/s per core where OpenBLAS gets ~130 on these d=64 shapes.  A
whole forward query block is one nogil Numba call; the score kernel also
folds per-row maxima so unmasked tiles skip the softmax max pass.  Other
dtypes / head dims use BLAS tiles (``use_micro=False`` forces that path).

Parallelism: a small pool of Python threads, one per core, each pulling work
items; BLAS runs single-threaded inside (threadpoolctl), the Numba kernels
release the GIL.

Nothing is compiled at import; kernels compile (and are cached on disk) at the
first call.
"""

from __future__ import annotations

import threading

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .attention_common import col_range, prepare, row_range, tile_needs_index_mask
from .attention_math import attention_math, attention_math_backward
from .fast_exp import FASTMATH, _ir_loop, exp_sub_sum, fast_exp_neg, row_max
from .parallel import blas_threads, get_num_threads, parallel_for

__all__ = ["attention_forward", "attention_backward"]

# tile sizes (rows x keys); tuned on a 2-core Zen 4, re-tuned on a 2-core
# AVX-512 Xeon: a forward work item of FWD_BLOCK_Q rows runs in sub-blocks of
# FWD_SUB_Q rows so the score rows stay in L1/L2 between the score, softmax
# and P @ V passes
FWD_BLOCK_Q = 256
FWD_BLOCK_K = 1024
FWD_SUB_Q = 48
BWD_BLOCK_Q = 512
BWD_BLOCK_K = 128

# below this many score entries per (batch, head) the math path is used
MATH_THRESHOLD = 128 * 128


# ------------------------------------------------------------------ kernels
@njit(fastmath=FASTMATH, cache=True, nogil=True)
def _row_max(row, lowest):
    """Max of a 1-D array.  A plain ``max`` loop does not vectorise here (FP
    max reductions need no-NaN semantics); eight independent accumulators are
    SLP-vectorised instead (~6x faster)."""
    n = row.shape[0]
    n8 = n - n % 8
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = lowest
    for c in range(0, n8, 8):
        x0 = row[c]
        x1 = row[c + 1]
        x2 = row[c + 2]
        x3 = row[c + 3]
        x4 = row[c + 4]
        x5 = row[c + 5]
        x6 = row[c + 6]
        x7 = row[c + 7]
        m0 = x0 if x0 > m0 else m0
        m1 = x1 if x1 > m1 else m1
        m2 = x2 if x2 > m2 else m2
        m3 = x3 if x3 > m3 else m3
        m4 = x4 if x4 > m4 else m4
        m5 = x5 if x5 > m5 else m5
        m6 = x6 if x6 > m6 else m6
        m7 = x7 if x7 > m7 else m7
    m0 = m0 if m0 > m1 else m1
    m2 = m2 if m2 > m3 else m3
    m4 = m4 if m4 > m5 else m5
    m6 = m6 if m6 > m7 else m7
    m0 = m0 if m0 > m2 else m2
    m4 = m4 if m4 > m6 else m6
    m0 = m0 if m0 > m4 else m4
    for c in range(n8, n):
        x = row[c]
        m0 = x if x > m0 else m0
    return m0


@njit(fastmath=FASTMATH, cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _fwd_tile(s, m, l, acc, b, h, i0, j0, off, left, right, need_idx, mask, mask_is_bool,
              ninf, zero, rowmax=None):
    """Mask the score tile ``s`` in place, update running max ``m`` / sum ``l``,
    rescale the accumulator ``acc`` and leave the unnormalised probabilities
    in ``s``.

    Rows whose running max is still ``-inf`` (first key block, or nothing
    visible yet) skip the rescale: their ``acc`` row is about to be
    overwritten (first block) or is exactly 0.  Band-masked entries are
    zeroed by ranges, never exponentiated.  ``rowmax`` (rows, k): per-row
    partial maxima of the whole row, used instead of a max pass on tiles
    without masking."""
    nr, nc = s.shape
    nv = acc.shape[1]
    for r in range(nr):
        i = i0 + r
        row = s[r]
        lo = 0
        hi = nc
        if need_idx:
            lo = min(max(i + off - left - j0, 0), nc)
            hi = max(min(i + off + right - j0 + 1, nc), lo)
            for c in range(lo):
                row[c] = zero
            for c in range(hi, nc):
                row[c] = zero
        if mask is not None:
            if mask_is_bool:
                for c in range(lo, hi):
                    if not mask[b, h, i, j0 + c]:
                        row[c] = ninf
            else:
                for c in range(lo, hi):
                    row[c] += mask[b, h, i, j0 + c]
        # loops over a slice, not range(lo, hi): the latter does not vectorise
        sub = row[lo:hi]
        if rowmax is not None and not need_idx and mask is None:
            # maxima already folded in by the score kernel (all columns visible)
            mx = rowmax[r, 0]
            for c in range(1, rowmax.shape[1]):
                x = rowmax[r, c]
                mx = x if x > mx else mx
        else:
            mx = row_max(sub)
        m_old = m[r]
        m_new = max(m_old, mx)
        if m_new == ninf:
            sub[:] = zero
            continue
        ssum = exp_sub_sum(sub, m_new)
        m[r] = m_new
        if m_old == ninf:
            l[r] = ssum
        else:
            alpha = fast_exp_neg(m_old - m_new)
            l[r] = l[r] * alpha + ssum
            if alpha != 1:
                for c in range(nv):
                    acc[r, c] *= alpha


@njit(fastmath=FASTMATH, cache=True, nogil=True)
def _add_inplace(a, b):
    for r in range(a.shape[0]):
        for c in range(a.shape[1]):
            a[r, c] += b[r, c]


@njit(fastmath=FASTMATH, cache=True, nogil=True)
def _fwd_finalize(acc, m, l, lse, ninf, zero):
    for r in range(acc.shape[0]):
        if l[r] > 0:
            inv = 1 / l[r]
            for c in range(acc.shape[1]):
                acc[r, c] *= inv
            lse[r] = m[r] + np.log(l[r])
        else:
            for c in range(acc.shape[1]):
                acc[r, c] = zero
            lse[r] = ninf


@njit(fastmath=FASTMATH, cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _bwd_probs(s, lse, b, h, i0, j0, off, left, right, need_idx, mask, mask_is_bool, ninf, zero):
    """Turn the score tile ``s`` into probabilities ``exp(s - lse)`` in place
    (band-masked entries zeroed by ranges, never read)."""
    nr, nc = s.shape
    for r in range(nr):
        i = i0 + r
        row = s[r]
        lo = 0
        hi = nc
        if need_idx:
            lo = min(max(i + off - left - j0, 0), nc)
            hi = max(min(i + off + right - j0 + 1, nc), lo)
            row[:lo] = zero
            row[hi:] = zero
        sub = row[lo:hi]
        if mask is not None:
            if mask_is_bool:
                for c in range(lo, hi):
                    if not mask[b, h, i, j0 + c]:
                        row[c] = ninf
            else:
                for c in range(lo, hi):
                    row[c] += mask[b, h, i, j0 + c]
        lr = lse[r]
        if lr == ninf:
            sub[:] = zero
        else:
            # s - lse <= 0 up to rounding (lse >= the row max)
            exp_sub_sum(sub, lr)


@njit(fastmath=FASTMATH, cache=True, nogil=True)
def _bwd_dscores(p, dp, dvec):
    """``dp <- p * (dp - D)`` (row-wise D)."""
    for r in range(p.shape[0]):
        d = dvec[r]
        for c in range(p.shape[1]):
            dp[r, c] = p[r, c] * (dp[r, c] - d)


@njit(fastmath=FASTMATH, cache=True, nogil=True)
def _rowdot(a, b, out):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for r in range(a.shape[2]):
                acc = a[i, j, r, 0] * b[i, j, r, 0]
                for c in range(1, a.shape[3]):
                    acc += a[i, j, r, c] * b[i, j, r, c]
                out[i, j, r] = acc


# ------------------------------------------------- float32 GEMM micro-kernels
# OpenBLAS reaches ~130 GFLOP/s/core on the attention shapes (inner or outer
# dimension d=64) against ~170 on big GEMMs.  These register-blocked kernels on
# explicit 16-lane LLVM vectors (AVX-512 zmm where available) do better: K is
# packed once per head into 32-key panels (E, 32) so a panel stays in L1, and
# the P @ V kernel accumulates straight into the output rows (no temporary).
_F32T = ir.FloatType()
_I64T = ir.IntType(64)
_I32T = ir.IntType(32)
_VF = ir.VectorType(_F32T, 16)
QK_ROWS = 8  # score micro-tile: 8 query rows x 32 keys (16 zmm accumulators)
KEY_PANEL = 32
PV_DIM = 64  # the P @ V kernel handles value head dim 64 (4 zmm per row)


def _ir_data(context, builder, ty, arr):
    return context.make_array(ty)(context, builder, arr).data


def _ir_splat(builder, x):
    b = builder.insert_element(ir.Constant(_VF, ir.Undefined), x, ir.Constant(_I32T, 0))
    return builder.shuffle_vector(b, b, ir.Constant(ir.VectorType(_I32T, 16), [0] * 16))


def _ir_fma(builder):
    return cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_VF, [_VF, _VF, _VF]), "llvm.fma.v16f32")


def _make_qk_micro(fixed_e):
  @intrinsic
  def _qk_micro(typingctx, q, qoff, E, kp, koff, s, soff, lds, mx, mxoff):
    """``s[soff + r*lds + c] = sum_d q[qoff + r*E + d] * kp[koff + d*32 + c]``
    for r < 8, c < 32 (flat float32 arrays, E >= 1); also folds the tile into
    the per-row 16-lane running maxima ``mx[mxoff + 16*r : ... + 16]``.
    With ``fixed_e`` the head dim is a compile-time constant (``E`` must equal
    it): row addresses become constant displacements off one pointer and the
    d loop is unrolled by 4, which keeps the loop under the front-end limit."""
    sig = types.void(q, qoff, E, kp, koff, s, soff, lds, mx, mxoff)

    def codegen(context, builder, sg, args):
        qd = _ir_data(context, builder, sg.args[0], args[0])
        kd = _ir_data(context, builder, sg.args[3], args[3])
        sd = _ir_data(context, builder, sg.args[5], args[5])
        qoff, E, koff, soff, lds = args[1], args[2], args[4], args[6], args[7]
        unroll = 1
        if fixed_e:
            E = ir.Constant(_I64T, fixed_e)
            unroll = 4
        fma = _ir_fma(builder)
        zero = ir.Constant(_VF, [ir.Constant(_F32T, 0.0)] * 16)
        rows = [builder.add(qoff, builder.mul(ir.Constant(_I64T, r), E)) for r in range(QK_ROWS)]

        def body(i, acc):
            for u in range(unroll):
                d = builder.add(builder.mul(i, ir.Constant(_I64T, unroll)), ir.Constant(_I64T, u))
                kp_ = builder.gep(kd, [builder.add(koff, builder.mul(d, ir.Constant(_I64T, 32)))])
                kv = builder.bitcast(kp_, _VF.as_pointer())
                k0 = builder.load(kv, align=4)
                k1 = builder.load(builder.gep(kv, [ir.Constant(_I32T, 1)]), align=4)
                out = []
                for r in range(QK_ROWS):
                    b = _ir_splat(builder, builder.load(builder.gep(qd, [builder.add(rows[r], d)])))
                    out += [builder.call(fma, [b, k0, acc[2 * r]]),
                            builder.call(fma, [b, k1, acc[2 * r + 1]])]
                acc = out
            return acc

        n = E if unroll == 1 else ir.Constant(_I64T, fixed_e // unroll)
        acc = _ir_loop(builder, n, [zero] * (2 * QK_ROWS), body)
        for r in range(QK_ROWS):
            sp = builder.gep(sd, [builder.add(soff, builder.mul(ir.Constant(_I64T, r), lds))])
            sp = builder.bitcast(sp, _VF.as_pointer())
            builder.store(acc[2 * r], sp, align=4)
            builder.store(acc[2 * r + 1], builder.gep(sp, [ir.Constant(_I32T, 1)]), align=4)
        md = _ir_data(context, builder, sg.args[8], args[8])
        for r in range(QK_ROWS):
            mp = builder.gep(md, [builder.add(args[9], ir.Constant(_I64T, 16 * r))])
            mp = builder.bitcast(mp, _VF.as_pointer())
            a, b = acc[2 * r], acc[2 * r + 1]
            v = builder.select(builder.fcmp_ordered(">", a, b), a, b)
            old = builder.load(mp, align=4)
            builder.store(builder.select(builder.fcmp_ordered(">", v, old), v, old), mp, align=4)
        return context.get_dummy_value()

    return sig, codegen
  return _qk_micro


_qk_micro = _make_qk_micro(0)
_qk_micro64 = _make_qk_micro(64)


def _make_pv_micro(rb):
    @intrinsic
    def _pv_micro(typingctx, p, poff, ldp, n, v, voff, o, ooff, pcs):
        """``o[ooff + r*64 + c] += sum_{j<n} p[poff + r*ldp + j*pcs] * v[voff + j*64 + c]``
        for r < rb, c < 64 (flat float32 arrays, n >= 1).  ``ldp, pcs`` =
        ``(row length, 1)`` reads ``p`` as is, ``(1, row length)`` transposed."""
        sig = types.void(p, poff, ldp, n, v, voff, o, ooff, pcs)

        def codegen(context, builder, sg, args):
            pd = _ir_data(context, builder, sg.args[0], args[0])
            vd = _ir_data(context, builder, sg.args[4], args[4])
            od = _ir_data(context, builder, sg.args[6], args[6])
            poff, ldp, n, voff, ooff, pcs = args[1], args[2], args[3], args[5], args[7], args[8]
            fma = _ir_fma(builder)
            optr = []
            for r in range(rb):
                op = builder.gep(od, [builder.add(ooff, ir.Constant(_I64T, r * PV_DIM))])
                op = builder.bitcast(op, _VF.as_pointer())
                optr += [builder.gep(op, [ir.Constant(_I32T, u)]) for u in range(4)]
            init = [builder.load(x, align=4) for x in optr]
            rows = [builder.add(poff, builder.mul(ir.Constant(_I64T, r), ldp)) for r in range(rb)]

            def body(j, acc):
                vp = builder.gep(vd, [builder.add(voff, builder.mul(j, ir.Constant(_I64T, PV_DIM)))])
                vp = builder.bitcast(vp, _VF.as_pointer())
                vv = [builder.load(builder.gep(vp, [ir.Constant(_I32T, u)]), align=4)
                      for u in range(4)]
                out = []
                for r in range(rb):
                    pj = builder.add(rows[r], builder.mul(j, pcs))
                    b = _ir_splat(builder, builder.load(builder.gep(pd, [pj])))
                    out += [builder.call(fma, [b, vv[u], acc[4 * r + u]]) for u in range(4)]
                return out

            acc = _ir_loop(builder, n, init, body)
            for x, ptr in zip(acc, optr):
                builder.store(x, ptr, align=4)
            return context.get_dummy_value()

        return sig, codegen

    return _pv_micro


_pv_micro6 = _make_pv_micro(6)
_pv_micro4 = _make_pv_micro(4)
_pv_micro2 = _make_pv_micro(2)
_pv_micro1 = _make_pv_micro(1)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _qk_tile(q, kp, p0, s, hi0, mx):
    """``s = q @ K[32*p0 : 32*p0 + s.shape[1]].T`` with ``q`` (rows, E) and
    ``s`` (rows, ncp) C-contiguous, rows % 8 == 0, ncp % 32 == 0, and ``kp``
    the packed keys (panels, E, 32).  Row ``r`` only needs columns
    ``< hi0 + r`` (causal / window right edge): panels past that for a whole
    8-row group are skipped (left unwritten).  ``mx`` (rows, 16) receives
    per-row 16-lane maxima of the computed scores (all columns written)."""
    nr, ncp = s.shape
    E = q.shape[1]
    qf = q.reshape(-1)
    kf = kp.reshape(-1)
    sf = s.reshape(-1)
    mf = mx.reshape(-1)
    mf[:] = -np.inf
    for c in range(0, ncp, KEY_PANEL):
        base = (p0 + c // KEY_PANEL) * E * KEY_PANEL
        # groups whose last row ends before this panel skip it (later groups,
        # seeing more keys, still need it)
        r0 = max(0, min(nr, (c - hi0 + 1) // QK_ROWS * QK_ROWS))
        if E == 64:
            for r in range(r0, nr, QK_ROWS):
                _qk_micro64(qf, r * E, E, kf, base, sf, r * ncp + c, ncp, mf, r * 16)
        else:
            for r in range(r0, nr, QK_ROWS):
                _qk_micro(qf, r * E, E, kf, base, sf, r * ncp + c, ncp, mf, r * 16)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _pv_tile(p, nc, v, j0, o, hi0):
    """``o += p[:o.shape[0], :nc] @ v[j0:j0 + nc]`` (``p`` C-contiguous with
    any row length >= nc; ``v`` (S, 64) and ``o`` (rows, 64) C-contiguous).
    Row ``r`` of ``p`` is zero from column ``hi0 + r`` on (not read)."""
    nr = o.shape[0]
    ldp = p.shape[1]
    pf = p.reshape(-1)
    vf = v.reshape(-1)
    of = o.reshape(-1)
    voff = j0 * PV_DIM
    if nc <= 0:
        return
    r = 0
    while r + 6 <= nr:
        n = min(nc, hi0 + r + 5)
        if n > 0:
            _pv_micro6(pf, r * ldp, ldp, n, vf, voff, of, r * PV_DIM, 1)
        r += 6
    while r + 4 <= nr:
        n = min(nc, hi0 + r + 3)
        if n > 0:
            _pv_micro4(pf, r * ldp, ldp, n, vf, voff, of, r * PV_DIM, 1)
        r += 4
    while r + 2 <= nr:
        n = min(nc, hi0 + r + 1)
        if n > 0:
            _pv_micro2(pf, r * ldp, ldp, n, vf, voff, of, r * PV_DIM, 1)
        r += 2
    while r < nr:
        n = min(nc, hi0 + r)
        if n > 0:
            _pv_micro1(pf, r * ldp, ldp, n, vf, voff, of, r * PV_DIM, 1)
        r += 1


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _ptv_tile(p, nr, nc, v, i0, o):
    """``o += p[:nr, :nc].T @ v[i0:i0 + nr]`` (``p`` C-contiguous, any row
    length >= nc; ``v`` (L, 64) and ``o`` (nc, 64) C-contiguous; nr >= 1)."""
    ldp = p.shape[1]
    pf = p.reshape(-1)
    vf = v.reshape(-1)
    of = o.reshape(-1)
    voff = i0 * PV_DIM
    c = 0
    while c + 6 <= nc:
        _pv_micro6(pf, c, 1, nr, vf, voff, of, c * PV_DIM, ldp)
        c += 6
    while c + 4 <= nc:
        _pv_micro4(pf, c, 1, nr, vf, voff, of, c * PV_DIM, ldp)
        c += 4
    while c + 2 <= nc:
        _pv_micro2(pf, c, 1, nr, vf, voff, of, c * PV_DIM, ldp)
        c += 2
    while c < nc:
        _pv_micro1(pf, c, 1, nr, vf, voff, of, c * PV_DIM, ldp)
        c += 1


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _fwd_item(q_blk, kp, v, acc, lse, m, lsum, sflat, rmax, nr, i0, ja, jb, bk, b, h, off, left,
              right, mask, mask_is_bool, ninf, zero, sub):
    """One query block of the micro-kernel forward: rows ``[i0, i0 + nr)`` of
    one head against keys ``[ja, jb)`` (``ja`` panel-aligned) in blocks of
    ``bk``; ``acc`` (any contents on entry) receives the normalised output.

    Each key block (K panels + V rows, kept in L2) is applied to the rows in
    sub-blocks of ``sub`` rows (a multiple of 8) so the score rows stay
    cache-resident between the score, softmax and P @ V passes; a sub-block
    only visits the keys its own rows can see."""
    acc[:] = zero
    mm = m[:nr]
    ll = lsum[:nr]
    mm[:] = ninf
    ll[:] = zero
    for j0 in range(ja, jb, bk):
        j1 = min(j0 + bk, jb)
        for r0 in range(0, nr, sub):
            r1 = min(r0 + sub, nr)
            n = r1 - r0
            n8 = -(-n // QK_ROWS) * QK_ROWS
            ii0 = i0 + r0
            # visible columns of the sub-block: [first row's left edge, last
            # row's right edge]; the start stays panel-aligned
            cs = ii0 + off - left
            js = j0
            if cs > j0:
                js = cs // KEY_PANEL * KEY_PANEL
            je = min(j1, ii0 + n + off + right)
            if je <= js:
                continue
            _fwd_block(q_blk[r0:r0 + n8], kp, v, acc[r0:r1], mm[r0:r1], ll[r0:r1], sflat, rmax,
                       n, ii0, js, je, b, h, off, left, right, mask, mask_is_bool, ninf, zero)
    _fwd_finalize(acc, mm, ll, lse, ninf, zero)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _fwd_heads(qs, k, kp, v, out, lse, heads, blocks, G, sc, m, lsum, sflat, rmax, bk, off, left,
               right, mask, mask_is_bool, ninf, zero, sub):
    """All query blocks ``blocks`` (rows ``(i0, i1, ja, jb)``) of the query
    heads of the kv heads ``heads`` (rows ``(b, hk)``), packing each kv head's
    keys first."""
    for t in range(heads.shape[0]):
        b = heads[t, 0]
        hk = heads[t, 1]
        _pack_head(k[b, hk], kp[b, hk], sc)
        for h in range(hk * G, (hk + 1) * G):
            for u in range(blocks.shape[0]):
                i0 = blocks[u, 0]
                i1 = blocks[u, 1]
                nr = i1 - i0
                nr8 = -(-nr // QK_ROWS) * QK_ROWS
                _fwd_item(qs[b, h, i0:i0 + nr8], kp[b, hk], v[b, hk], out[b, h, i0:i1],
                          lse[b, h, i0:i1], m, lsum, sflat, rmax, nr, i0, blocks[u, 2],
                          blocks[u, 3], bk, b, h, off, left, right, mask, mask_is_bool, ninf,
                          zero, sub)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _fwd_block(q_blk, kp, v, acc, mm, ll, sflat, rmax, nr, i0, j0, j1, b, h, off, left, right,
               mask, mask_is_bool, ninf, zero):
    """Rows ``[i0, i0 + nr)`` against keys ``[j0, j1)`` (``j0`` panel-aligned):
    score tile, online-softmax update of ``mm`` / ``ll`` / ``acc``, ``acc +=
    P @ V``."""
    nr8 = q_blk.shape[0]
    i1 = i0 + nr
    nc = j1 - j0
    ncp = -(-nc // KEY_PANEL) * KEY_PANEL
    st = sflat[: nr8 * ncp].reshape(nr8, ncp)
    # row r sees columns < hi0 + r (right band edge; huge when unbounded)
    hi0 = i0 + off + right - j0 + 1
    rm = rmax[:nr8]
    _qk_tile(q_blk, kp, j0 // KEY_PANEL, st, hi0, rm)
    full = (j0 - (i1 - 1) - off >= -left) and ((j1 - 1) - i0 - off <= right)
    # the kernel's maxima include padding keys when nc < ncp: not usable
    _fwd_tile(st[:nr, :nc], mm, ll, acc, b, h, i0, j0, off, left, right,
              not full or nc != ncp, mask, mask_is_bool, ninf, zero, rm)
    _pv_tile(st, nc, v, j0, acc, hi0)


@njit(fastmath=FASTMATH, cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _pack_head(k, kp, scale=1.0):
    """Keys ``(S, E)`` of one head -> zero-padded 32-key panels ``(P, E, 32)``,
    multiplied by ``scale`` (the forward folds the softmax scale in here)."""
    S, E = k.shape
    sc = np.float32(scale)  # float32 only (micro-kernel path); keeps it vectorised
    for p in range(kp.shape[0]):
        j0 = p * KEY_PANEL
        n = min(KEY_PANEL, S - j0)
        for d in range(E):
            row = kp[p, d]
            for c in range(n):
                row[c] = k[j0 + c, d] * sc
            for c in range(n, KEY_PANEL):
                row[c] = 0


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _scale_head(q, scale, out):
    """``out[:L] = q * scale`` for one head; padding rows of ``out`` zeroed."""
    L, E = q.shape
    for i in range(L):
        for d in range(E):
            out[i, d] = q[i, d] * scale
    for i in range(L, out.shape[0]):
        for d in range(E):
            out[i, d] = 0

# ------------------------------------------------------------------ threads
def _run_parallel(worker, items, nthreads):
    """Run ``worker(item_iter, tid)`` as ``nthreads`` pool tasks pulling from one
    shared iterator over ``items``; BLAS is single-threaded meanwhile."""
    if len(items) <= 1:
        worker(iter(items), 0)
        return
    it = iter(items)
    lock = threading.Lock()

    def next_items():
        while True:
            with lock:
                x = next(it, _END)
            if x is _END:
                return
            yield x

    with blas_threads(1):
        parallel_for(lambda t: worker(next_items(), t), max(1, nthreads))


_END = object()


def _mask_args(spec):
    return spec.mask, spec.mask_is_bool


# ------------------------------------------------------------------ forward
def _use_math(spec, impl):
    if impl == "math":
        return True
    if impl == "flash":
        return False
    if impl != "auto":
        raise ValueError(f"impl must be 'auto', 'flash' or 'math', got {impl!r}")
    return spec.L * spec.S <= MATH_THRESHOLD


def attention_forward(q, k, v, *, scale=None, causal=None, window=None, mask=None,
                      alignment=None, impl="auto", block_q=None, block_k=None, threads=None,
                      use_micro=True):
    """Attention forward.  Returns ``(out (B,H,L,Ev), lse (B,H,L))``.

    ``impl``: ``'flash'`` (tiled kernel), ``'math'`` (full score matrix) or
    ``'auto'`` (math for tiny problems).  See :mod:`.attention_common` for the
    option semantics.
    """
    spec = prepare(q, k, v, scale=scale, causal=causal, window=window, mask=mask,
                   alignment=alignment)
    if _use_math(spec, impl):
        return attention_math(q, k, v, scale=spec.scale, causal=causal, window=window,
                              mask=mask, alignment=alignment)
    B, H, L, S, E, Ev, G = spec.B, spec.H, spec.L, spec.S, spec.E, spec.Ev, spec.group
    Hkv = spec.Hkv
    dt = spec.dtype
    ninf, zero = dt.type(-np.inf), dt.type(0)
    bq = int(block_q or FWD_BLOCK_Q)
    bk = int(block_k or FWD_BLOCK_K)
    nthreads = int(threads or get_num_threads())

    micro = dt == np.float32 and Ev == PV_DIM and E > 0 and use_micro
    if micro:
        bq = -(-bq // QK_ROWS) * QK_ROWS
        bk = -(-bk // KEY_PANEL) * KEY_PANEL
        Lp = -(-L // QK_ROWS) * QK_ROWS
        Sp = -(-S // KEY_PANEL) * KEY_PANEL
        # the softmax scale is folded into the packed keys (exact for the usual
        # power-of-two scales); Q is used in place when its rows need no padding
        if L == Lp and q.dtype == dt and q.flags.c_contiguous:
            qs = q
        else:
            qs = np.zeros((B, H, Lp, E), dtype=dt)  # rows padded to the micro-tile
            qs[:, :, :L] = q
        kp = np.empty((B, Hkv, Sp // KEY_PANEL, E, KEY_PANEL), dtype=dt)
        vc = np.ascontiguousarray(v, dtype=dt)
        sc = float(spec.scale)
        # K panels are packed lazily by the first work item of each kv head
        # (no separate parallel pass)
        packed = [False] * (B * Hkv)
        pack_locks = [threading.Lock() for _ in range(B * Hkv)]

        def ensure_packed(b, hk):
            i = b * Hkv + hk
            if not packed[i]:
                with pack_locks[i]:
                    if not packed[i]:
                        _pack_head(k[b, hk], kp[b, hk], sc)
                        packed[i] = True
    else:
        qs = np.multiply(q, dt.type(spec.scale), dtype=dt)
        # K transposed once (O(N*d)): BLAS tiles run ~10% faster on (E, S) rows
        kT = np.ascontiguousarray(np.swapaxes(k, -1, -2))
    # the micro-kernel work items zero their own output rows
    out = (np.empty if micro else np.zeros)((B, H, L, Ev), dtype=dt)
    lse = np.empty((B, H, L), dtype=dt)
    if L == 0:
        return out, lse
    mask4, mask_is_bool = _mask_args(spec)
    off, left, right = spec.off, spec.left, spec.right

    items = []
    for i0 in range(0, L, bq):
        i1 = min(i0 + bq, L)
        j0, j1 = col_range(spec, i0, i1)
        if micro:
            j0 = j0 // KEY_PANEL * KEY_PANEL  # panel-aligned; the extra keys are masked
        cost = max(0, j1 - j0)
        for b in range(B):
            for h in range(H):
                items.append((cost, b, h, i0, i1, j0, j1))
    items.sort(key=lambda t: -t[0])  # longest first for load balance

    units = B * Hkv
    if micro and nthreads > 1 and units >= nthreads and units % nthreads == 0:
        # kv heads split evenly over the threads (every head costs the same):
        # one nogil call per thread packs its heads' keys and runs all their
        # query blocks -- no per-block Python dispatch / GIL traffic
        blocks = np.array(sorted({(t[3], t[4], t[5], t[6]) for t in items}), dtype=np.int64)
        heads = np.array([(b, hk) for b in range(B) for hk in range(Hkv)], dtype=np.int64)
        per = units // nthreads
        chunks = [heads[t * per:(t + 1) * per] for t in range(nthreads)]

        def heads_worker(its, tid):
            sflat = np.empty(bq * bk, dtype=dt)
            m = np.empty(bq, dtype=dt)
            lsum = np.empty(bq, dtype=dt)
            rmax = np.empty((bq, 16), dtype=dt)
            for hs in its:
                _fwd_heads(qs, k, kp, vc, out, lse, hs, blocks, G, sc, m, lsum, sflat, rmax, bk,
                           off, left, right, mask4, mask_is_bool, ninf, zero, FWD_SUB_Q)

        _run_parallel(heads_worker, chunks, nthreads)
        return out, lse

    def micro_worker(its, tid):
        sflat = np.empty(bq * bk, dtype=dt)
        m = np.empty(bq, dtype=dt)
        lsum = np.empty(bq, dtype=dt)
        rmax = np.empty((bq, 16), dtype=dt)
        for (_, b, h, i0, i1, ja, jb) in its:
            nr = i1 - i0
            nr8 = -(-nr // QK_ROWS) * QK_ROWS
            hk = h // G
            if jb > ja:
                ensure_packed(b, hk)
            _fwd_item(qs[b, h, i0:i0 + nr8], kp[b, hk], vc[b, hk], out[b, h, i0:i1],
                      lse[b, h, i0:i1], m, lsum, sflat, rmax, nr, i0, ja, jb, bk, b, h, off,
                      left, right, mask4, mask_is_bool, ninf, zero, FWD_SUB_Q)

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
            if jb <= ja:
                acc.fill(zero)
            for j0 in range(ja, jb, bk):
                j1 = min(j0 + bk, jb)
                nc = j1 - j0
                st = sflat[: nr * nc].reshape(nr, nc)
                np.matmul(q_blk, kT[b, hk, :, j0:j1], out=st)
                need = tile_needs_index_mask(spec, i0, i1, j0, j1)
                _fwd_tile(st, mm, ll, acc, b, h, i0, j0, off, left, right, need, mask4,
                          mask_is_bool, ninf, zero)
                if j0 == ja:
                    np.matmul(st, v[b, hk, j0:j1], out=acc)
                else:
                    np.matmul(st, v[b, hk, j0:j1], out=tmp)
                    _add_inplace(acc, tmp)
            _fwd_finalize(acc, mm, ll, lse[b, h, i0:i1], ninf, zero)

    _run_parallel(micro_worker if micro else worker, items, nthreads)
    return out, lse


# ------------------------------------------------------------------ backward
def attention_backward(q, k, v, out, lse, dout, *, scale=None, causal=None, window=None,
                       mask=None, alignment=None, impl="auto", block_q=None, block_k=None,
                       threads=None, use_micro=True):
    """Attention backward from the forward's ``out`` and ``lse``.

    Returns ``(dq, dk, dv)`` shaped like ``q, k, v``.
    """
    spec = prepare(q, k, v, scale=scale, causal=causal, window=window, mask=mask,
                   alignment=alignment)
    if _use_math(spec, impl):
        return attention_math_backward(q, k, v, out, lse, dout, scale=spec.scale, causal=causal,
                                       window=window, mask=mask, alignment=alignment)
    B, H, Hkv, L, S, E, Ev, G = spec.B, spec.H, spec.Hkv, spec.L, spec.S, spec.E, spec.Ev, spec.group
    dt = spec.dtype
    ninf, zero = dt.type(-np.inf), dt.type(0)
    bq = int(block_q or BWD_BLOCK_Q)
    bk = int(block_k or BWD_BLOCK_K)
    nthreads = int(threads or get_num_threads())
    mask4, mask_is_bool = _mask_args(spec)
    off, left, right = spec.off, spec.left, spec.right

    dout = np.asarray(dout, dtype=dt)
    # float32 with head dims 64: S = Q K^T and dP = dO V^T run on the score
    # micro-kernel (K, V packed in 32-key panels, Q / dO rows padded to 8),
    # dQ += dS K on the P @ V micro-kernel; dK, dV stay on BLAS
    micro = dt == np.float32 and E == PV_DIM and Ev == PV_DIM and use_micro
    if micro:
        bk = -(-bk // KEY_PANEL) * KEY_PANEL
        bq = -(-bq // QK_ROWS) * QK_ROWS
        Lp = -(-L // QK_ROWS) * QK_ROWS
        Sp = -(-S // KEY_PANEL) * KEY_PANEL
        qs = np.empty((B, H, Lp, E), dtype=dt)
        dop = np.empty((B, H, Lp, Ev), dtype=dt)
        kp = np.empty((B, Hkv, Sp // KEY_PANEL, E, KEY_PANEL), dtype=dt)
        vp = np.empty((B, Hkv, Sp // KEY_PANEL, Ev, KEY_PANEL), dtype=dt)
        kc = np.ascontiguousarray(k, dtype=dt)
        sc = dt.type(spec.scale)
        prep = [(0, b, h) for b in range(B) for h in range(H)]
        prep += [(1, b, h) for b in range(B) for h in range(Hkv)]

        def prep_worker(its, tid):
            for (kind, b, h) in its:
                if kind == 0:
                    _scale_head(q[b, h], sc, qs[b, h])
                    _scale_head(dout[b, h], dt.type(1), dop[b, h])
                else:
                    _pack_head(k[b, h], kp[b, h])
                    _pack_head(v[b, h], vp[b, h])

        _run_parallel(prep_worker, prep, nthreads)
    else:
        qs = np.multiply(q, dt.type(spec.scale), dtype=dt)
    Dvec = np.empty((B, H, L), dtype=dt)
    _rowdot(np.ascontiguousarray(dout), np.ascontiguousarray(out, dtype=dt), Dvec)
    dq = np.zeros((B, H, L, E), dtype=dt)
    dk = np.zeros((B, Hkv, S, E), dtype=dt)
    dv = np.zeros((B, Hkv, S, Ev), dtype=dt)
    if L == 0 or S == 0:
        return dq, dk, dv

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
        sflat = np.empty(bq * bk, dtype=dt)
        pflat = np.empty(bq * bk, dtype=dt)
        rmax = np.empty((bq, 16), dtype=dt)
        tk = np.empty(bk * max(E, Ev), dtype=dt)
        tq = np.empty(bq * E, dtype=dt)
        for (b, hk, blocks) in its:
            for (j0, j1) in blocks:
                ra, rb = row_range(spec, j0, j1)
                if rb <= ra:
                    continue
                nc = j1 - j0
                k_blk = k[b, hk, j0:j1]
                v_blk = v[b, hk, j0:j1]
                dk_blk = dk[b, hk, j0:j1]
                dv_blk = dv[b, hk, j0:j1]
                tdk = tk[: nc * E].reshape(nc, E)
                tdv = tk[: nc * Ev].reshape(nc, Ev)
                for h in range(hk * G, (hk + 1) * G):
                    for i0 in range(ra, rb, bq):
                        i1 = min(i0 + bq, rb)
                        nr = i1 - i0
                        q_blk = qs[b, h, i0:i1]
                        do_blk = dout[b, h, i0:i1]
                        if micro:
                            nr8 = -(-nr // QK_ROWS) * QK_ROWS
                            ncp = -(-nc // KEY_PANEL) * KEY_PANEL
                            stp = sflat[: nr8 * ncp].reshape(nr8, ncp)
                            dpp = pflat[: nr8 * ncp].reshape(nr8, ncp)
                            hi0 = i0 + off + right - j0 + 1
                            _qk_tile(qs[b, h, i0:i0 + nr8], kp[b, hk], j0 // KEY_PANEL, stp,
                                     hi0, rmax[:nr8])
                            st = stp[:nr, :nc]
                            dpt = dpp[:nr, :nc]
                        else:
                            st = sflat[: nr * nc].reshape(nr, nc)
                            dpt = pflat[: nr * nc].reshape(nr, nc)
                            np.matmul(q_blk, k_blk.T, out=st)
                        need = tile_needs_index_mask(spec, i0, i1, j0, j1)
                        if micro and nc != ncp:
                            need = True
                        _bwd_probs(st, lse[b, h, i0:i1], b, h, i0, j0, off, left, right, need,
                                   mask4, mask_is_bool, ninf, zero)
                        if micro:
                            _ptv_tile(stp, nr, nc, dop[b, h], i0, dv_blk)
                        else:
                            np.matmul(st.T, do_blk, out=tdv)
                            _add_inplace(dv_blk, tdv)
                        if micro:
                            # no panel skipping: dP must be finite everywhere
                            _qk_tile(dop[b, h, i0:i0 + nr8], vp[b, hk], j0 // KEY_PANEL, dpp,
                                     1 << 60, rmax[:nr8])
                        else:
                            np.matmul(do_blk, v_blk.T, out=dpt)
                        _bwd_dscores(st, dpt, Dvec[b, h, i0:i1])
                        if micro:
                            _ptv_tile(dpp, nr, nc, qs[b, h], i0, dk_blk)
                        else:
                            np.matmul(dpt.T, q_blk, out=tdk)
                            _add_inplace(dk_blk, tdk)
                        if micro:
                            _pv_tile(dpp, nc, kc[b, hk], j0, dqb[b, h, i0:i1], 1 << 60)
                        else:
                            tdq = tq[: nr * E].reshape(nr, E)
                            np.matmul(dpt, k_blk, out=tdq)
                            _add_inplace(dqb[b, h, i0:i1], tdq)

    _run_parallel(worker, items, nthreads)
    if not per_head:
        for extra in dq_bufs[1:]:
            dq += extra
    dq *= dt.type(spec.scale)
    return dq, dk, dv
