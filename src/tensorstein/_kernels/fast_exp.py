"""Vectorisable ``exp`` for Numba kernels.

Numba lowers ``math.exp`` to a scalar libm call here (no SVML), which blocks
loop vectorisation.  This module implements ``exp`` as

* range reduction ``x = n*ln2 + r`` with ``|r| <= ln2/2`` (two-constant
  Cody-Waite split of ln2),
* a polynomial for ``exp(r)`` (Cephes' ``expf`` minimax polynomial for
  float32, a degree-13 Taylor polynomial for float64),
* ``2**n`` built by shifting ``n + bias`` into the exponent bits.

Everything is branch-free so LLVM vectorises it under ``fastmath``.  Inputs
below the smallest normal result (including ``-inf``) give exactly ``0``;
inputs above the overflow threshold give ``inf``.  NaN handling is not
guaranteed (attention never feeds NaN to it).

Public:

* :func:`fast_exp` -- scalar function usable inside other ``@njit`` kernels
  (float32 or float64; dispatch happens at compile time).
* :func:`fast_exp_f32`, :func:`fast_exp_f64` -- the typed scalar versions.
* :func:`exp` -- vectorised array version (``out=`` supported), compiled
  lazily on the first call.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = ["fast_exp", "fast_exp_f32", "fast_exp_f64", "fast_exp_neg", "row_max", "exp_sub_sum", "exp",
           "FASTMATH"]

# Fast-math flags used by every kernel of this package: everything except the
# "no NaN / no Inf" assumptions, because attention uses -inf as "masked".
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@intrinsic
def _i32_as_f32(typingctx, x):
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return sig, codegen


@intrinsic
def _i64_as_f64(typingctx, x):
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


# ---------------------------------------------------------------- float32
_F32_LOG2E = np.float32(1.4426950408889634)
_F32_C1 = np.float32(0.693359375)
_F32_C2 = np.float32(-2.12194440e-4)
_F32_LO = np.float32(-87.33654)  # log(FLT_MIN): below -> 0
_F32_HI = np.float32(88.72283)  # log(FLT_MAX): above -> inf
_F32_P0 = np.float32(1.9875691500e-4)
_F32_P1 = np.float32(1.3981999507e-3)
_F32_P2 = np.float32(8.3334519073e-3)
_F32_P3 = np.float32(4.1665795894e-2)
_F32_P4 = np.float32(1.6666665459e-1)
_F32_P5 = np.float32(5.0000001201e-1)
_F32_ONE = np.float32(1.0)
_F32_HALF = np.float32(0.5)
_F32_ZERO = np.float32(0.0)
_F32_INF = np.float32(np.inf)


@njit(fastmath=FASTMATH, cache=True)
def fast_exp_f32(x):
    xc = min(max(x, _F32_LO), _F32_HI)
    fn = min(np.floor(xc * _F32_LOG2E + _F32_HALF), np.float32(127.0))
    r = xc - fn * _F32_C1
    r = r - fn * _F32_C2
    r2 = r * r
    p = _F32_P0 * r + _F32_P1
    p = p * r + _F32_P2
    p = p * r + _F32_P3
    p = p * r + _F32_P4
    p = p * r + _F32_P5
    p = p * r2 + r + _F32_ONE
    # fn in [-126, 127] (clamped: inputs in (88.38, 88.72] lose a little
    # accuracy, which softmax never sees since its arguments are <= 0)
    n = np.int32(fn)
    y = p * _i32_as_f32((n + np.int32(127)) << np.int32(23))
    y = _F32_ZERO if x < _F32_LO else y
    y = _F32_INF if x > _F32_HI else y
    return y


# ---------------------------------------------------------------- float64
_F64_LOG2E = 1.4426950408889634
_F64_C1 = 6.93145751953125e-1
_F64_C2 = 1.42860682030941723212e-6
_F64_LO = -708.3964185322641  # log(DBL_MIN)
_F64_HI = 709.782712893384  # log(DBL_MAX)


@njit(fastmath=FASTMATH, cache=True)
def fast_exp_f64(x):
    xc = min(max(x, _F64_LO), _F64_HI)
    fn = min(np.floor(xc * _F64_LOG2E + 0.5), 1023.0)
    r = xc - fn * _F64_C1
    r = r - fn * _F64_C2
    # degree-13 Taylor polynomial, |r| <= 0.347: truncation error ~2e-17
    p = 1.6059043836821613e-10  # 1/13!
    p = p * r + 2.08767569878681e-09
    p = p * r + 2.505210838544172e-08
    p = p * r + 2.755731922398589e-07
    p = p * r + 2.7557319223985893e-06
    p = p * r + 2.48015873015873e-05
    p = p * r + 0.0001984126984126984
    p = p * r + 0.001388888888888889
    p = p * r + 0.008333333333333333
    p = p * r + 0.041666666666666664
    p = p * r + 0.16666666666666666
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    n = np.int64(fn)
    y = p * _i64_as_f64((n + np.int64(1023)) << np.int64(52))
    y = 0.0 if x < _F64_LO else y
    y = np.inf if x > _F64_HI else y
    return y


def fast_exp(x):  # pragma: no cover - replaced by the overload inside numba
    """Scalar exp for use inside ``@njit`` code (float32 or float64)."""
    return float(np.exp(x))


@overload(fast_exp, fastmath=FASTMATH)
def _ov_fast_exp(x):
    if x == types.float32:
        return lambda x: fast_exp_f32(x)
    if isinstance(x, types.Float):
        return lambda x: fast_exp_f64(x)
    if isinstance(x, types.Integer):
        return lambda x: fast_exp_f64(np.float64(x))
    return None


# ------------------------------------------------- softmax helpers
_F32_NEG_LO = np.float32(-88.0)  # floor(-88 * log2e + 0.5) = -127 -> 2**n bits are 0


@njit(fastmath=FASTMATH, cache=True, inline="always", error_model="numpy")
def fast_exp_neg_f32(x):
    """``exp(x)`` for ``x <= 0`` (or ``-inf``): the softmax case.

    Cheaper than :func:`fast_exp_f32`: no overflow branch, and inputs below
    ``-88`` land on ``n = -127`` whose ``2**n`` bit pattern is ``0.0``, so the
    underflow (and ``-inf``) case needs no select either.  Results below the
    smallest normal float (``x < -87.34``) flush to 0."""
    xc = max(x, _F32_NEG_LO)
    fn = np.floor(xc * _F32_LOG2E + _F32_HALF)
    r = xc - fn * _F32_C1
    r = r - fn * _F32_C2
    r2 = r * r
    p = _F32_P0 * r + _F32_P1
    p = p * r + _F32_P2
    p = p * r + _F32_P3
    p = p * r + _F32_P4
    p = p * r + _F32_P5
    p = p * r2 + r + _F32_ONE
    n = np.int32(fn)
    return p * _i32_as_f32((n + np.int32(127)) << np.int32(23))


def fast_exp_neg(x):  # pragma: no cover - replaced by the overload inside numba
    """Scalar ``exp`` for ``x <= 0`` inside ``@njit`` code."""
    return float(np.exp(x))


@overload(fast_exp_neg, fastmath=FASTMATH)
def _ov_fast_exp_neg(x):
    if x == types.float32:
        return lambda x: fast_exp_neg_f32(x)
    if isinstance(x, types.Float):
        return lambda x: fast_exp_f64(x)
    return None


@njit(fastmath=FASTMATH, cache=True, inline="always", error_model="numpy", boundscheck=False)
def _row_max_f64(row):
    # FP max reductions do not vectorise in Numba (the select carries no no-NaN
    # flag); the IEEE order is the signed order of ``i ^ ((i >> 63) & 0x7ff..f)``
    # on the bit pattern, and integer max reductions vectorise.  -inf if empty.
    ri = row.view(np.int64)
    m = np.int64(-9218868437227405313)  # key of -inf (bits 0xfff0000000000000)
    for c in range(ri.shape[0]):
        i = ri[c]
        k = np.int64(i ^ np.int64((i >> np.int64(63)) & np.int64(0x7FFFFFFFFFFFFFFF)))
        m = k if k > m else m
    m = np.int64(m ^ np.int64((m >> np.int64(63)) & np.int64(0x7FFFFFFFFFFFFFFF)))
    return _i64_as_f64(m)


# ------------------------------------------------- explicit-vector row kernels
# Numba's auto-vectoriser stops at 256-bit vectors on AVX-512 machines (LLVM's
# prefer-vector-width) and does not vectorise FP max reductions at all.  These
# intrinsics emit LLVM IR on <16 x float> vectors directly (LLVM legalises
# them to whatever the CPU has): a loop over 64-float chunks, four vector
# accumulators, one horizontal reduction per row.
def _host_has_avx512():
    """AVX-512F on the host, and Numba compiling for the host CPU (not a
    generic / cross target where the x86 intrinsic might not exist)."""
    try:
        from numba.core import config
        from llvmlite import binding as llvm

        if config.CPU_NAME not in (None, "", "host"):
            return False
        return bool(llvm.get_host_cpu_features().get("avx512f", False))
    except Exception:  # pragma: no cover
        return False


_HAS_AVX512 = _host_has_avx512()
_W = 16  # lanes per vector (one AVX-512 register; LLVM splits it elsewhere)
_U = 4  # vectors per loop iteration: 64 floats
_F32T = ir.FloatType()
_I32T = ir.IntType(32)
_VF = ir.VectorType(_F32T, _W)
_VI = ir.VectorType(_I32T, _W)
_IR_FLAGS = ("nsz", "arcp", "contract", "afn", "reassoc")


def _splat(c, ty=None):
    ty = ty or _VF
    return ir.Constant(ty, [ir.Constant(ty.element, c)] * _W)


def _hreduce(builder, vec, op):
    n = _W
    while n > 1:
        h = n // 2
        idx = ir.VectorType(_I32T, h)
        lo = builder.shuffle_vector(vec, vec, ir.Constant(idx, list(range(h))))
        hi = builder.shuffle_vector(vec, vec, ir.Constant(idx, list(range(h, n))))
        vec = op(lo, hi)
        n = h
    return builder.extract_element(vec, ir.Constant(_I32T, 0))


def _ir_loop(builder, n, init, body):
    """Emit ``for i in range(n)`` (n >= 1) carrying the values ``init``
    through ``body(i, carried) -> new carried``; returns the final values."""
    i64 = ir.IntType(64)
    pre = builder.block
    loop = builder.append_basic_block("row_loop")
    done = builder.append_basic_block("row_done")
    builder.branch(loop)
    builder.position_at_end(loop)
    i = builder.phi(i64)
    i.add_incoming(ir.Constant(i64, 0), pre)
    phis = []
    for x in init:
        ph = builder.phi(x.type)
        ph.add_incoming(x, pre)
        phis.append(ph)
    new = body(i, phis)
    i2 = builder.add(i, ir.Constant(i64, 1))
    cur = builder.block
    i.add_incoming(i2, cur)
    for ph, x in zip(phis, new):
        ph.add_incoming(x, cur)
    builder.cbranch(builder.icmp_signed("<", i2, n), loop, done)
    builder.position_at_end(done)
    return new


def _chunk_ptrs(builder, data, i):
    base = builder.gep(data, [builder.mul(i, ir.Constant(ir.IntType(64), _W * _U))])
    vp = builder.bitcast(base, _VF.as_pointer())
    return [builder.gep(vp, [ir.Constant(_I32T, u)]) for u in range(_U)]


def _fm(op, a, b):
    return op(a, b, flags=_IR_FLAGS)


def _exp_neg_emitter(builder):
    """``f(x)`` emitting ``exp(x)`` for a <16 x float> ``x <= 0``: the :func:`fast_exp_neg_f32` scheme with a
    cheaper reduction and polynomial (one-constant ``ln 2``, degree-6 Taylor; relative error < 5e-7)."""
    floor = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VF, [_VF]), "llvm.floor.v16f32")
    i127 = ir.Constant(_VI, [ir.Constant(_I32T, 127)] * _W)
    i23 = ir.Constant(_VI, [ir.Constant(_I32T, 23)] * _W)
    # scalef path: clamp low enough that 2**n * poly rounds to exactly 0
    lo = _splat(-110.0 if _HAS_AVX512 else float(_F32_NEG_LO))
    scalef = None
    if _HAS_AVX512:
        # vrndscaleps + vscalefps: 2**n applied in one instruction (correct
        # underflow to 0), ~1/3 fewer vector ops than the bit-shift form
        rint = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VF, [_VF]), "llvm.rint.v16f32")
        scalef = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(_VF, [_VF, _VF, _VF, ir.IntType(16), _I32T]),
            "llvm.x86.avx512.mask.scalef.ps.512")

    def emit(x):
        x = builder.select(builder.fcmp_ordered("<", x, lo), lo, x)
        if scalef is not None:
            fn = builder.call(rint, [_fm(builder.fmul, x, _splat(float(_F32_LOG2E)))])
        else:
            t = _fm(builder.fadd, _fm(builder.fmul, x, _splat(float(_F32_LOG2E))), _splat(0.5))
            fn = builder.call(floor, [t])
        r = _fm(builder.fsub, x, _fm(builder.fmul, fn, _splat(float(np.float32(np.log(2))))))
        q = _splat(float(np.float32(1 / 720)))
        for c in (1 / 120, 1 / 24, 1 / 6, 0.5, 1.0, 1.0):
            q = _fm(builder.fadd, _fm(builder.fmul, q, r), _splat(float(np.float32(c))))
        if scalef is not None:
            return builder.call(scalef, [q, fn, _splat(0.0), ir.Constant(ir.IntType(16), -1),
                                         ir.Constant(_I32T, 4)])
        e = builder.shl(builder.add(builder.fptosi(fn, _VI), i127), i23)
        return _fm(builder.fmul, q, builder.bitcast(e, _VF))

    return emit


@intrinsic
def _exp_chunks_f32(typingctx, arr, n64, m):
    """``arr[:64 * n64] = exp(arr[:64 * n64] - m)`` (``n64 >= 1``, :func:`_exp_neg_emitter`); returns their
    sum."""
    sig = types.float32(arr, n64, m)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        mv = _splat_value(builder, args[2])
        exp = _exp_neg_emitter(builder)

        def body(i, acc):
            out = []
            for p, a in zip(_chunk_ptrs(builder, data, i), acc):
                y = exp(_fm(builder.fsub, builder.load(p, align=4), mv))
                builder.store(y, p, align=4)
                out.append(_fm(builder.fadd, a, y))
            return out

        acc = _ir_loop(builder, args[1], [_splat(0.0)] * _U, body)
        tot = _fm(builder.fadd, _fm(builder.fadd, acc[0], acc[1]), _fm(builder.fadd, acc[2], acc[3]))
        return _hreduce(builder, tot, lambda a, b: _fm(builder.fadd, a, b))

    return sig, codegen


# ------------------------------------------------- whole-row vector kernels
# A whole row in the 64-float loop above, then its last < 64 floats as four vectors through
# masked loads and stores (one AVX-512 instruction each): no scalar tail, which for rows of a
# few hundred floats cost more than the vector part.
_VM = ir.VectorType(ir.IntType(1), _W)
_LANES = ir.Constant(_VI, [ir.Constant(_I32T, k) for k in range(_W)])


def _splat_value(builder, x, ty=_VF):
    v = builder.insert_element(ir.Constant(ty, ir.Undefined), x, ir.Constant(_I32T, 0))
    return builder.shuffle_vector(v, v, ir.Constant(_VI, [0] * _W))


def _load(builder, ptr, mask, fill):
    """``*ptr``, lanes off in ``mask`` (None: all on) read as ``fill``."""
    if mask is None:
        return builder.load(ptr, align=4)
    f = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_VF, [_VF.as_pointer(), _I32T, _VM, _VF]), "llvm.masked.load.v16f32.p0")
    return builder.call(f, [ptr, ir.Constant(_I32T, 4), mask, fill])


def _store(builder, val, ptr, mask):
    if mask is None:
        builder.store(val, ptr, align=4)
        return
    f = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [_VF, _VF.as_pointer(), _I32T, _VM]),
        "llvm.masked.store.v16f32.p0")
    builder.call(f, [val, ptr, ir.Constant(_I32T, 4), mask])


def _ir_row(builder, ary, acc, step):
    """Emit a pass over the contiguous 1-D float32 array ``ary`` with ``_U`` vector accumulators, each
    starting at ``acc``: ``acc = step(v, mask, acc)`` for each vector ``v`` (an index in vectors), ``_U``
    at a time, ``mask`` None; then ``_U`` more steps with the lanes past the end off in ``mask``.
    Returns the accumulators."""
    i64 = ir.IntType(64)
    n = cgutils.unpack_tuple(builder, ary.shape, 1)[0]
    nb = builder.lshr(n, ir.Constant(i64, 6))
    pre = builder.block
    loop = builder.append_basic_block("vec_loop")
    after = builder.append_basic_block("vec_after")
    builder.cbranch(builder.icmp_signed(">", nb, ir.Constant(i64, 0)), loop, after)
    builder.position_at_end(loop)

    def body(i, accs):
        v = builder.mul(i, ir.Constant(i64, _U))
        return [step(builder.add(v, ir.Constant(i64, u)), None, a) for u, a in enumerate(accs)]

    new = _ir_loop(builder, nb, [acc] * _U, body)
    last = builder.block
    builder.branch(after)
    builder.position_at_end(after)
    accs = []
    for a in new:
        accs.append(builder.phi(acc.type))
        accs[-1].add_incoming(acc, pre)
        accs[-1].add_incoming(a, last)
    rem = _splat_value(builder, builder.trunc(builder.sub(n, builder.shl(nb, ir.Constant(i64, 6))), _I32T), _VI)
    v = builder.mul(nb, ir.Constant(i64, _U))
    masks = [builder.icmp_signed("<", builder.add(_LANES, _splat(_W * u, _VI)), rem) for u in range(_U)]
    return [step(builder.add(v, ir.Constant(i64, u)), masks[u], a) for u, a in enumerate(accs)]


def _vptr(builder, ary, v):
    """Pointer to vector ``v`` of ``ary``'s data."""
    return builder.gep(builder.bitcast(ary.data, _VF.as_pointer()), [v])


def _vmax(builder):
    return lambda a, b: builder.select(builder.fcmp_ordered(">", a, b), a, b)


@intrinsic
def _max_row_f32(typingctx, arr):
    """Max of the contiguous float32 row ``arr`` (``-inf`` if empty)."""
    sig = types.float32(arr)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        vmax = _vmax(builder)
        ninf = _splat(float("-inf"))
        acc = _ir_row(builder, ary, ninf,
                      lambda v, mask, a: vmax(a, _load(builder, _vptr(builder, ary, v), mask, ninf)))
        return _hreduce(builder, vmax(vmax(acc[0], acc[1]), vmax(acc[2], acc[3])), vmax)

    return sig, codegen


@njit(fastmath=FASTMATH, cache=True, inline="always", error_model="numpy", boundscheck=False)
def _exp_sub_sum_f32(row, m):
    n = row.shape[0]
    n64 = n - n % 64
    s = _F32_ZERO
    if n64 > 0:
        s = _exp_chunks_f32(row, n64 // 64, m)
    for c in range(n64, n):
        p = fast_exp_neg_f32(row[c] - m)
        row[c] = p
        s += p
    return s


@njit(fastmath=FASTMATH, cache=True, inline="always", error_model="numpy", boundscheck=False)
def _exp_sum_into_f64(row, m, out):
    """``out[:] = exp(row - m)`` (``out`` may be ``row``); returns the sum."""
    s = 0.0
    for c in range(row.shape[0]):
        p = fast_exp_f64(row[c] - m)
        out[c] = p
        s += p
    return s


def exp_sub_sum(row, m):  # pragma: no cover - replaced by the overload inside numba
    """``row[:] = exp(row - m)`` for ``row <= m``; returns the sum (inside
    ``@njit`` code; ``row`` a contiguous 1-D float array)."""
    np.exp(row - m, out=row)
    return row.sum()


@overload(exp_sub_sum, fastmath=FASTMATH)
def _ov_exp_sub_sum(row, m):
    if isinstance(row, types.Array) and row.dtype == types.float32:
        return lambda row, m: _exp_sub_sum_f32(row, np.float32(m))
    if isinstance(row, types.Array) and row.dtype == types.float64:
        return lambda row, m: _exp_sum_into_f64(row, np.float64(m), row)
    return None


def row_max(row):  # pragma: no cover - replaced by the overload inside numba
    """Max of a contiguous 1-D float row (``-inf`` if empty) inside ``@njit``
    code.  Pass slices (``row[lo:hi]``), not index bounds: loops over
    ``range(lo, hi)`` with a variable ``lo`` do not vectorise (Numba cannot
    rule out negative indices)."""
    return row.max(initial=-np.inf)


@overload(row_max, fastmath=FASTMATH, inline="always")
def _ov_row_max(row):
    if isinstance(row, types.Array) and row.dtype == types.float32:
        return lambda row: _max_row_f32(row)
    if isinstance(row, types.Array) and row.dtype == types.float64:
        return lambda row: _row_max_f64(row)
    return None


@njit(fastmath=FASTMATH, cache=True)
def _exp_f32_1d(x, out):
    for i in range(x.shape[0]):
        out[i] = fast_exp_f32(x[i])


@njit(fastmath=FASTMATH, cache=True)
def _exp_f64_1d(x, out):
    for i in range(x.shape[0]):
        out[i] = fast_exp_f64(x[i])


def exp(x, out=None):
    """Elementwise ``exp`` of a float32/float64 array with the fast kernel.

    Other dtypes fall back to :func:`numpy.exp`.  ``out`` may alias ``x``.
    """
    x = np.asarray(x)
    if x.dtype == np.float32:
        kern = _exp_f32_1d
    elif x.dtype == np.float64:
        kern = _exp_f64_1d
    else:
        return np.exp(x, out=out)
    if out is None:
        out = np.empty_like(x, order="C")
    elif out.shape != x.shape or out.dtype != x.dtype:
        raise ValueError("out must have the shape and dtype of x")
    xc = np.ascontiguousarray(x)
    if out.flags.c_contiguous:
        kern(xc.reshape(-1), out.reshape(-1))
        return out
    tmp = np.empty(x.shape, dtype=x.dtype)
    kern(xc.reshape(-1), tmp.reshape(-1))
    out[...] = tmp
    return out
