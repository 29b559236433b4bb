"""float32 GEMM micro-kernels of the flash attention, generated from one geometry.

OpenBLAS reaches ~130 GFLOP/s/core on the attention shapes (inner or outer
dimension d=64) against ~170 on big GEMMs.  These register-blocked kernels,
written as LLVM IR on explicit ``lanes``-wide float32 vectors (AVX-512 zmm
where available; LLVM splits them elsewhere), do better:

* the score kernel ``S = Q K^T``: ``rows`` query rows x ``panel`` keys per call,
  K packed once per head into ``panel``-key panels ``(E, panel)`` that stay in
  L1; it also folds per-row ``lanes``-wide running maxima of the scores;
* the P @ V kernel ``O += P V``: ``rb`` rows (one of ``pv_rows``) x
  ``pv_cols`` columns accumulating straight into the output rows, optionally
  reading P transposed (``dK += dS^T Q``, ``dV += P^T dO`` in the backward).

Everything is generated from :data:`GEOMETRY`, a validated :class:`MicroTile`;
a head dim listed in ``head_dims`` gets an unrolled score kernel with a
compile-time ``E`` and the micro-kernel path of forward and backward.  Numba
caches compiled code per source file: the Numba functions that depend on the
geometry all live in this file, so editing it recompiles them.

    >>> GEOMETRY.head_dims
    (64, 128)
    >>> MicroTile(lanes=16, rows=16, panel=32, head_dims=(64,))
    Traceback (most recent call last):
    ...
    ValueError: score micro-tile 16x32 needs 35 vector registers, the target has 32
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .fast_exp import FASTMATH, _ir_loop
from .flash_tiles import fwd_finalize, fwd_tile

__all__ = ["MicroTile", "GEOMETRY", "ROWS", "PANEL", "LANES", "supports", "qk_tile", "pv_tile",
           "ptv_tile", "fwd_item", "fwd_heads", "pack_head", "scale_head"]


@dataclass(frozen=True)
class MicroTile:
    """Geometry of the float32 micro-kernels (validated on construction).

    ``lanes``: float32 lanes per vector; ``rows`` x ``panel``: query rows x keys
    of a score micro-tile (``panel`` is also the key-panel width of packed K/V);
    ``head_dims``: head dims with an unrolled score kernel and the micro path;
    ``pv_cols`` / ``pv_rows``: columns and row blockings (largest first, down to
    1) of the P @ V kernel; ``registers``: vector registers of the target;
    ``unroll``: unroll of the score kernel's head-dim loop.

    >>> MicroTile(lanes=16, rows=8, panel=32, head_dims=(64,)).qk_registers
    19
    """

    lanes: int = 16
    rows: int = 8
    panel: int = 32
    head_dims: tuple[int, ...] = (64,)
    pv_cols: int = 64
    pv_rows: tuple[int, ...] = (6, 4, 2, 1)
    registers: int = 32
    unroll: int = 4

    def __post_init__(self):
        def need(ok, msg):
            if not ok:
                raise ValueError(msg)

        need(self.lanes >= 1 and self.lanes & (self.lanes - 1) == 0,
             f"lanes must be a power of two, got {self.lanes}")
        need(self.rows >= 1, f"rows must be >= 1, got {self.rows}")
        need(self.panel >= self.lanes and self.panel % self.lanes == 0,
             f"panel {self.panel} must be a multiple of lanes {self.lanes}")
        need(self.pv_cols >= self.lanes and self.pv_cols % self.lanes == 0,
             f"pv_cols {self.pv_cols} must be a multiple of lanes {self.lanes}")
        need(len(self.pv_rows) > 0 and self.pv_rows[-1] == 1
             and all(a > b for a, b in zip(self.pv_rows, self.pv_rows[1:])),
             f"pv_rows must decrease strictly down to 1, got {self.pv_rows}")
        need(self.unroll >= 1, f"unroll must be >= 1, got {self.unroll}")
        for e in self.head_dims:
            need(e > 0 and e % self.pv_cols == 0 and e % self.unroll == 0,
                 f"head dim {e} must be a positive multiple of pv_cols {self.pv_cols} "
                 f"and of unroll {self.unroll}")
        need(len(set(self.head_dims)) == len(self.head_dims), f"repeated head dim in {self.head_dims}")
        need(self.qk_registers <= self.registers,
             f"score micro-tile {self.rows}x{self.panel} needs {self.qk_registers} vector "
             f"registers, the target has {self.registers}")
        need(self.pv_registers <= self.registers,
             f"P @ V micro-tile {self.pv_rows[0]}x{self.pv_cols} needs {self.pv_registers} "
             f"vector registers, the target has {self.registers}")

    @property
    def qk_registers(self) -> int:
        """Accumulators + one K panel row + the broadcast query value."""
        per_row = self.panel // self.lanes
        return self.rows * per_row + per_row + 1

    @property
    def pv_registers(self) -> int:
        """Accumulators + one V row block + the broadcast probability."""
        per_row = self.pv_cols // self.lanes
        return self.pv_rows[0] * per_row + per_row + 1


GEOMETRY = MicroTile(head_dims=(64, 128))
LANES, ROWS, PANEL, PV_COLS = GEOMETRY.lanes, GEOMETRY.rows, GEOMETRY.panel, GEOMETRY.pv_cols
PV_ROWS = GEOMETRY.pv_rows


def supports(dtype, *dims) -> bool:
    """Whether the micro path handles ``dtype`` with these head dims."""
    return np.dtype(dtype) == np.float32 and all(d in GEOMETRY.head_dims for d in dims)


# ------------------------------------------------------------ IR generation
_F32T = ir.FloatType()
_I64T = ir.IntType(64)
_I32T = ir.IntType(32)
_VF = ir.VectorType(_F32T, LANES)


def _i64(x):
    return ir.Constant(_I64T, x)


def _ir_data(context, builder, ty, arr):
    return context.make_array(ty)(context, builder, arr).data


def _ir_splat(builder, x):
    b = builder.insert_element(ir.Constant(_VF, ir.Undefined), x, ir.Constant(_I32T, 0))
    return builder.shuffle_vector(b, b, ir.Constant(ir.VectorType(_I32T, LANES), [0] * LANES))


def _ir_fma(builder):
    return cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_VF, [_VF, _VF, _VF]), f"llvm.fma.v{LANES}f32")


def _ir_vec(builder, data, off, u=0):
    """Pointer to the ``u``-th vector at element offset ``off`` of ``data``."""
    p = builder.bitcast(builder.gep(data, [off]), _VF.as_pointer())
    return builder.gep(p, [ir.Constant(_I32T, u)]) if u else p


def _ir_switch(builder, key, cases, emit):
    """``emit(case)`` (returning a list of values) in one block per case of
    ``key`` (``None`` is the default); phi-merges the values afterwards."""
    default = builder.append_basic_block("default")
    merge = builder.append_basic_block("merge")
    sw = builder.switch(key, default)
    results = []
    for case in list(cases) + [None]:
        if case is None:
            builder.position_at_end(default)
        else:
            blk = builder.append_basic_block(f"case_{case}")
            sw.add_case(_i64(case), blk)
            builder.position_at_end(blk)
        vals = emit(case)
        results.append((vals, builder.block))
        builder.branch(merge)
    builder.position_at_end(merge)
    out = []
    for i in range(len(results[0][0])):
        ph = builder.phi(results[0][0][i].type)
        for vals, blk in results:
            ph.add_incoming(vals[i], blk)
        out.append(ph)
    return out


@intrinsic
def _qk_micro(typingctx, q, qoff, E, kp, koff, s, soff, lds, mx, mxoff):
    """``s[soff + r*lds + c] = sum_d q[qoff + r*E + d] * kp[koff + d*PANEL + c]``
    for r < ROWS, c < PANEL (flat float32 arrays, E >= 1); also folds the tile
    into the per-row running maxima ``mx[mxoff + LANES*r : ... + LANES]``.
    For E in ``head_dims`` the head dim is a compile-time constant (row
    addresses become constant displacements, the d loop is unrolled)."""
    sig = types.void(q, qoff, E, kp, koff, s, soff, lds, mx, mxoff)
    nvec = PANEL // LANES

    def codegen(context, builder, sg, args):
        qd = _ir_data(context, builder, sg.args[0], args[0])
        kd = _ir_data(context, builder, sg.args[3], args[3])
        sd = _ir_data(context, builder, sg.args[5], args[5])
        md = _ir_data(context, builder, sg.args[8], args[8])
        qoff, E, koff, soff, lds, mxoff = args[1], args[2], args[4], args[6], args[7], args[9]
        fma = _ir_fma(builder)
        zero = ir.Constant(_VF, [ir.Constant(_F32T, 0.0)] * LANES)

        def emit(fixed_e):
            e, unroll = (E, 1) if fixed_e is None else (_i64(fixed_e), GEOMETRY.unroll)
            rows = [builder.add(qoff, builder.mul(_i64(r), e)) for r in range(ROWS)]

            def body(i, acc):
                for u in range(unroll):
                    d = builder.add(builder.mul(i, _i64(unroll)), _i64(u))
                    kbase = builder.add(koff, builder.mul(d, _i64(PANEL)))
                    kv = [builder.load(_ir_vec(builder, kd, kbase, w), align=4) for w in range(nvec)]
                    out = []
                    for r in range(ROWS):
                        b = _ir_splat(builder, builder.load(builder.gep(qd, [builder.add(rows[r], d)])))
                        out += [builder.call(fma, [b, kv[w], acc[nvec * r + w]]) for w in range(nvec)]
                    acc = out
                return acc

            n = e if fixed_e is None else _i64(fixed_e // unroll)
            return _ir_loop(builder, n, [zero] * (nvec * ROWS), body)

        acc = _ir_switch(builder, E, GEOMETRY.head_dims, emit)
        for r in range(ROWS):
            srow = builder.add(soff, builder.mul(_i64(r), lds))
            for w in range(nvec):
                builder.store(acc[nvec * r + w], _ir_vec(builder, sd, srow, w), align=4)
            v = acc[nvec * r]
            for w in range(1, nvec):
                x = acc[nvec * r + w]
                v = builder.select(builder.fcmp_ordered(">", v, x), v, x)
            mp = _ir_vec(builder, md, builder.add(mxoff, _i64(LANES * r)))
            old = builder.load(mp, align=4)
            builder.store(builder.select(builder.fcmp_ordered(">", v, old), v, old), mp, align=4)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _pv_micro(typingctx, rb, p, poff, ldp, n, v, voff, o, ooff, pcs, ld):
    """``o[ooff + r*ld + c] += sum_{j<n} p[poff + r*ldp + j*pcs] * v[voff + j*ld + c]``
    for r < rb, c < PV_COLS (flat float32 arrays, n >= 1, ``rb`` one of
    ``pv_rows``).  ``ldp, pcs`` = ``(row length, 1)`` reads ``p`` as is,
    ``(1, row length)`` transposed."""
    sig = types.void(rb, p, poff, ldp, n, v, voff, o, ooff, pcs, ld)
    nvec = PV_COLS // LANES

    def codegen(context, builder, sg, args):
        pd = _ir_data(context, builder, sg.args[1], args[1])
        vd = _ir_data(context, builder, sg.args[5], args[5])
        od = _ir_data(context, builder, sg.args[7], args[7])
        rb, poff, ldp, n, voff, ooff, pcs, ld = (args[0], args[2], args[3], args[4], args[6],
                                                 args[8], args[9], args[10])
        fma = _ir_fma(builder)

        def emit(nrows):
            nrows = nrows or 1  # the default case (never taken) does one row
            optr = [_ir_vec(builder, od, builder.add(ooff, builder.mul(_i64(r), ld)), u)
                    for r in range(nrows) for u in range(nvec)]
            rows = [builder.add(poff, builder.mul(_i64(r), ldp)) for r in range(nrows)]

            def body(j, acc):
                vbase = builder.add(voff, builder.mul(j, ld))
                vv = [builder.load(_ir_vec(builder, vd, vbase, u), align=4) for u in range(nvec)]
                out = []
                for r in range(nrows):
                    pj = builder.add(rows[r], builder.mul(j, pcs))
                    b = _ir_splat(builder, builder.load(builder.gep(pd, [pj])))
                    out += [builder.call(fma, [b, vv[u], acc[nvec * r + u]]) for u in range(nvec)]
                return out

            acc = _ir_loop(builder, n, [builder.load(x, align=4) for x in optr], body)
            for x, ptr in zip(acc, optr):
                builder.store(x, ptr, align=4)
            return []

        _ir_switch(builder, rb, PV_ROWS, emit)
        return context.get_dummy_value()

    return sig, codegen


# ------------------------------------------------------------ tile drivers
@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def qk_tile(q, kp, p0, s, hi0, mx):
    """``s = q @ K[PANEL*p0 : PANEL*p0 + s.shape[1]].T`` with ``q`` (rows, E)
    and ``s`` (rows, ncp) C-contiguous, rows % ROWS == 0, ncp % PANEL == 0,
    and ``kp`` the packed keys (panels, E, PANEL).  Row ``r`` only needs
    columns ``< hi0 + r`` (causal / window right edge): panels past that for a
    whole row group are skipped (left unwritten).  ``mx`` (rows, LANES)
    receives per-row maxima of the computed scores (all columns written)."""
    nr, ncp = s.shape
    E = q.shape[1]
    qf = q.reshape(-1)
    kf = kp.reshape(-1)
    sf = s.reshape(-1)
    mf = mx.reshape(-1)
    mf[:] = -np.inf
    for c in range(0, ncp, PANEL):
        base = (p0 + c // PANEL) * E * PANEL
        # groups whose last row ends before this panel skip it (later groups,
        # seeing more keys, still need it)
        r0 = max(0, min(nr, (c - hi0 + 1) // ROWS * ROWS))
        for r in range(r0, nr, ROWS):
            _qk_micro(qf, r * E, E, kf, base, sf, r * ncp + c, ncp, mf, r * LANES)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def pv_tile(p, nc, v, j0, o, hi0):
    """``o += p[:o.shape[0], :nc] @ v[j0:j0 + nc]`` (``p`` C-contiguous with any
    row length >= nc; ``v`` (S, D) and ``o`` (rows, D) C-contiguous, D a
    multiple of PV_COLS).  Row ``r`` of ``p`` is zero from column ``hi0 + r`` on
    (not read)."""
    nr, D = o.shape
    ldp = p.shape[1]
    pf = p.reshape(-1)
    vf = v.reshape(-1)
    of = o.reshape(-1)
    if nc <= 0:
        return
    for c0 in range(0, D, PV_COLS):
        r = 0
        for rb in PV_ROWS:
            while r + rb <= nr:
                n = min(nc, hi0 + r + rb - 1)
                if n > 0:
                    _pv_micro(rb, pf, r * ldp, ldp, n, vf, j0 * D + c0, of, r * D + c0, 1, D)
                r += rb


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def ptv_tile(p, nr, nc, v, i0, o):
    """``o += p[:nr, :nc].T @ v[i0:i0 + nr]`` (``p`` C-contiguous, any row
    length >= nc; ``v`` (L, D) and ``o`` (nc, D) C-contiguous; nr >= 1)."""
    D = o.shape[1]
    ldp = p.shape[1]
    pf = p.reshape(-1)
    vf = v.reshape(-1)
    of = o.reshape(-1)
    for c0 in range(0, D, PV_COLS):
        c = 0
        for rb in PV_ROWS:
            while c + rb <= nc:
                _pv_micro(rb, pf, c, 1, nr, vf, i0 * D + c0, of, c * D + c0, ldp, D)
                c += rb


@njit(fastmath=FASTMATH, cache=True, nogil=True, error_model="numpy", boundscheck=False)
def pack_head(k, kp, scale=1.0):
    """Keys ``(S, E)`` of one head -> zero-padded key panels ``(P, E, PANEL)``,
    multiplied by ``scale`` (the forward folds the softmax scale in here)."""
    S, E = k.shape
    sc = np.float32(scale)  # float32 only (micro-kernel path); keeps it vectorised
    for p in range(kp.shape[0]):
        j0 = p * PANEL
        n = min(PANEL, S - j0)
        for d in range(E):
            row = kp[p, d]
            for c in range(n):
                row[c] = k[j0 + c, d] * sc
            for c in range(n, PANEL):
                row[c] = 0


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def scale_head(q, scale, out):
    """``out[:L] = q * scale`` for one head; padding rows of ``out`` zeroed."""
    L, E = q.shape
    for i in range(L):
        for d in range(E):
            out[i, d] = q[i, d] * scale
    for i in range(L, out.shape[0]):
        for d in range(E):
            out[i, d] = 0


# ------------------------------------------------- fused forward (one query block per call)
@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def fwd_item(q_blk, kp, v, acc, lse, m, lsum, sflat, rmax, nr, i0, ja, jb, bk, b, h, off, left,
             right, mask, mask_is_bool, ninf, zero, sub):
    """One query block of the micro-kernel forward: rows ``[i0, i0 + nr)`` of
    one head against keys ``[ja, jb)`` (``ja`` panel-aligned) in blocks of
    ``bk``; ``acc`` (any contents on entry) receives the normalised output.

    Each key block (K panels + V rows, kept in L2) is applied to the rows in
    sub-blocks of ``sub`` rows (a multiple of ROWS) so the score rows stay
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
            n8 = -(-n // ROWS) * ROWS
            ii0 = i0 + r0
            # visible columns of the sub-block: [first row's left edge, last
            # row's right edge]; the start stays panel-aligned
            cs = ii0 + off - left
            js = j0
            if cs > j0:
                js = cs // PANEL * PANEL
            je = min(j1, ii0 + n + off + right)
            if je <= js:
                continue
            fwd_block(q_blk[r0:r0 + n8], kp, v, acc[r0:r1], mm[r0:r1], ll[r0:r1], sflat, rmax,
                      n, ii0, js, je, b, h, off, left, right, mask, mask_is_bool, ninf, zero)
    fwd_finalize(acc, mm, ll, lse, ninf, zero)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def fwd_heads(qs, k, kp, v, out, lse, heads, blocks, G, sc, m, lsum, sflat, rmax, bk, off, left,
              right, mask, mask_is_bool, ninf, zero, sub):
    """All query blocks ``blocks`` (rows ``(i0, i1, ja, jb)``) of the query
    heads of the kv heads ``heads`` (rows ``(b, hk)``), packing each kv head's
    keys first."""
    for t in range(heads.shape[0]):
        b = heads[t, 0]
        hk = heads[t, 1]
        pack_head(k[b, hk], kp[b, hk], sc)
        for h in range(hk * G, (hk + 1) * G):
            for u in range(blocks.shape[0]):
                i0 = blocks[u, 0]
                i1 = blocks[u, 1]
                nr = i1 - i0
                nr8 = -(-nr // ROWS) * ROWS
                fwd_item(qs[b, h, i0:i0 + nr8], kp[b, hk], v[b, hk], out[b, h, i0:i1],
                         lse[b, h, i0:i1], m, lsum, sflat, rmax, nr, i0, blocks[u, 2],
                         blocks[u, 3], bk, b, h, off, left, right, mask, mask_is_bool, ninf,
                         zero, sub)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def fwd_block(q_blk, kp, v, acc, mm, ll, sflat, rmax, nr, i0, j0, j1, b, h, off, left, right,
              mask, mask_is_bool, ninf, zero):
    """Rows ``[i0, i0 + nr)`` against keys ``[j0, j1)`` (``j0`` panel-aligned):
    score tile, online-softmax update of ``mm`` / ``ll`` / ``acc``, ``acc +=
    P @ V``."""
    nr8 = q_blk.shape[0]
    i1 = i0 + nr
    nc = j1 - j0
    ncp = -(-nc // PANEL) * PANEL
    st = sflat[: nr8 * ncp].reshape(nr8, ncp)
    # row r sees columns < hi0 + r (right band edge; huge when unbounded)
    hi0 = i0 + off + right - j0 + 1
    rm = rmax[:nr8]
    qk_tile(q_blk, kp, j0 // PANEL, st, hi0, rm)
    full = (j0 - (i1 - 1) - off >= -left) and ((j1 - 1) - i0 - off <= right)
    # the kernel's maxima include padding keys when nc < ncp: not usable
    fwd_tile(st[:nr, :nc], mm, ll, acc, b, h, i0, j0, off, left, right,
             not full or nc != ncp, mask, mask_is_bool, ninf, zero, rm)
    pv_tile(st, nc, v, j0, acc, hi0)
