"""Float ``pow`` with the bits of torch's CPU kernel.

torch computes float ``pow`` (``aten/native/cpu/PowKernel.cpp``) with
``cpu_kernel_vec``: contiguous runs go through SLEEF's ``Sleef_powf16_u10`` /
``Sleef_powd8_u10`` (AVX-512; half the lanes on AVX2) two vectors at a time,
and the last ``n % (2 * lanes)`` elements of each run call the scalar
``std::pow`` (libm ``powf`` / ``pow``; ``pow`` in float64 for a float32
tensor's Python-number exponent).  Large tensors are cut into one run per
thread first (``at::parallel_for``, grain 32768).  SLEEF's ``xpowf`` /
``xpow`` -- ``exp(y * log|x|)`` in double-float / double-double arithmetic
with fused multiply-adds -- are re-derived here element by element, so
``10000 ** t`` and ``t ** 2.7`` agree with torch to the bit.

>>> import numpy as np
>>> float(pow_float(np.float32(10000.0), np.array([0.921875], np.float32))[0])
4869.67529296875
"""
from __future__ import annotations

import functools
import math
import os

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .elementwise_engine import get_num_threads, parallel_chunks

__all__ = ["pow_float", "pow_tensor_number", "vector_lanes"]

_J = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}  # no fast-math: exact rounding
_JI = dict(_J, inline="always")
_F = np.float32
_GRAIN = 32768  # at::internal::GRAIN_SIZE


@intrinsic
def _fma(typingctx, a, b, c):
    """Fused ``a * b + c`` (one rounding) in ``a``'s float type."""
    t = a
    sig = t(t, t, t)

    def codegen(context, builder, signature, args):
        f = ir.FloatType() if t == types.float32 else ir.DoubleType()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(f, [f, f, f]),
                                            "llvm.fma.f32" if t == types.float32 else "llvm.fma.f64")
        return builder.call(fn, [context.cast(builder, v, ty, t) for v, ty in zip(args, signature.args)])

    return sig, codegen


@intrinsic
def _bits_f64(typingctx, x):
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _f64_bits(typingctx, x):
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _bits_f32(typingctx, x):
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


_ONE, _TWO, _ZERO, _INF = _F(1.0), _F(2.0), _F(0.0), _F(np.inf)
_NAN = _F(np.nan)  # 0x7fc00000
_NAN_ALL = np.uint32(0xFFFFFFFF).view(np.float32)  # a NaN input: SLEEF ORs the NaN mask in
_R075 = _F(1.0) / _F(0.75)
_LN2_HI, _LN2_LO = _F(0.69314718246459960938), _F(-1.904654323148236017e-09)
_L0, _L1, _L2 = _F(0.240320354700088500976562), _F(0.285112679004669189453125), _F(0.400007992982864379882812)
_C_HI, _C_LO = _F(0.66666662693023681640625), _F(3.69183861259614332084311e-09)
_R_LN2 = _F(1.442695040888963407359924681001892137426645954152985934135449406931)
_L2U, _L2L = _F(0.693145751953125), _F(1.428606765330187045e-06)
_E0, _E1, _E2 = _F(0.00136324646882712841033936), _F(0.00836596917361021041870117), _F(0.0416710823774337768554688)
_E3, _E4 = _F(0.166665524244308471679688), _F(0.499999850988388061523438)
_M104, _TWO24, _TWO32 = _F(-104.0), _F(16777216.0), _F(2.0**32)
_I32_MIN = -2147483648


@njit(**_JI)
def _w32(v):
    """``v`` wrapped to int32 (two's complement), kept as an int64."""
    return ((v + 2147483648) & 0xFFFFFFFF) - 2147483648


@njit(**_JI)
def _cvt_i32(r):
    """x86 ``cvt(t)ps2dq`` on an already rounded float: NaN / out of range give INT_MIN."""
    ok = _F(-2147483648.0) <= r < _F(2147483648.0)
    return np.int64(r if ok else _ZERO) if ok else _I32_MIN


@njit(**_JI)
def _pow2_bits(e):
    """The float whose bits are ``e << 23`` (int32 arithmetic)."""
    return _bits_f32(np.int32(_w32(e << 23)))


@njit(**_JI)
def _ldexp(x, q):
    """SLEEF's ``vldexp_vf_vf_vi2``: ``x * 2**q`` by four (then one) exponent-field multiplies."""
    m = q >> 31
    m = _w32((_w32(_w32(m + q) >> 6) - m) << 4)
    q = _w32(q - _w32(m << 2))
    m = m + 0x7F
    m = m if m > 0 else 0
    m = 0xFF if m > 0xFF else m
    u = _pow2_bits(m)
    x = x * u * u * u * u
    return x * _pow2_bits(_w32(q + 0x7F))


@intrinsic
def _f32_bits(typingctx, x):
    sig = types.int32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@njit(**_JI)
def _normal_bits(v):
    """(bits, exponent bias) of a non-negative float, subnormals scaled by 2**32 into the normal range."""
    b = np.int64(_f32_bits(v))
    sub = (b >> 23) == 0
    return (np.int64(_f32_bits(v * _TWO32)) if sub else b), (159 if sub else 127)


@njit(**_JI)
def _getexp(v):
    """AVX-512 ``getexp`` of a non-negative ``v``: floor(log2 v) as a float (inf gives 128, as SLEEF
    replaces it; zero / NaN give garbage the callers override)."""
    b, bias = _normal_bits(v)
    return _F((b >> 23) - bias)


@njit(**_JI)
def _getmant(v):
    """AVX-512 ``getmant`` with interval [0.75, 1.5) of a positive finite ``v``."""
    b, _ = _normal_bits(v)
    return _bits_f32(np.int32((b & 0x7FFFFF) | ((126 if b & 0x400000 else 127) << 23)))


# ---------------------------------------------------------------- double-float arithmetic (FMA variants)
@njit(**_JI)
def _add2_ff(x, y):
    s = x + y
    v = s - x
    return s, (x - (s - v)) + (y - v)


@njit(**_JI)
def _add2_f2f(xh, xl, y):
    s = xh + y
    v = s - xh
    t = (xh - (s - v)) + (y - v)
    return s, t + xl


@njit(**_JI)
def _add2_f2f2(xh, xl, yh, yl):
    s = xh + yh
    v = s - xh
    t = (xh - (s - v)) + (yh - v)
    return s, t + (xl + yl)


@njit(**_JI)
def _add_f2f2(xh, xl, yh, yl):
    s = xh + yh
    return s, (((xh - s) + yh) + xl) + yl


@njit(**_JI)
def _add_ff2(x, yh, yl):
    s = x + yh
    return s, ((x - s) + yh) + yl


@njit(**_JI)
def _mul_f2f(xh, xl, y):
    s = xh * y
    return s, _fma(xl, y, _fma(xh, y, -s))


@njit(**_JI)
def _mul_f2f2(xh, xl, yh, yl):
    s = xh * yh
    return s, _fma(xh, yl, _fma(xl, yh, _fma(xh, yh, -s)))


@njit(**_JI)
def _squ(xh, xl):
    s = xh * xh
    return s, _fma(xh + xh, xl, _fma(xh, xh, -s))


@njit(**_JI)
def _div(nh, nl, dh, dl):
    t = _ONE / dh
    s = nh * t
    u = _fma(t, nh, -s)
    v = _fma(-dl, t, _fma(-dh, t, _ONE))
    return s, _fma(s, v, _fma(nl, t, u))


# ---------------------------------------------------------------- SLEEF's logkf / expkf / xpowf
@njit(**_JI)
def _logk(d):
    e = _getexp(d * _R075)
    m = _getmant(d)
    nh, nl = _add2_ff(-_ONE, m)
    dh, dl = _add2_ff(_ONE, m)
    xh, xl = _div(nh, nl, dh, dl)
    x2h, x2l = _squ(xh, xl)
    t = _fma(_fma(_L0, x2h, _L1), x2h, _L2)
    sh, sl = _mul_f2f(_LN2_HI, _LN2_LO, e)
    sh, sl = _add_f2f2(sh, sl, xh * _TWO, xl * _TWO)
    ah, al = _mul_f2f2(x2h, x2l, xh, xl)
    bh, bl = _mul_f2f(x2h, x2l, t)
    bh, bl = _add2_f2f2(bh, bl, _C_HI, _C_LO)
    ah, al = _mul_f2f2(ah, al, bh, bl)
    return _add_f2f2(sh, sl, ah, al)


@njit(**_JI)
def _expk(dh, dl):
    q = _cvt_i32(np.rint((dh + dl) * _R_LN2))
    qf = _F(q)
    sh, sl = _add2_f2f(dh, dl, qf * -_L2U)
    sh, sl = _add2_f2f(sh, sl, qf * -_L2L)
    s = sh + sl
    sh, sl = s, (sh - s) + sl
    u = _fma(_fma(_fma(_fma(_E0, sh, _E1), sh, _E2), sh, _E3), sh, _E4)
    ah, al = _squ(sh, sl)
    ah, al = _mul_f2f(ah, al, u)
    th, tl = _add_f2f2(sh, sl, ah, al)
    th, tl = _add_ff2(_ONE, th, tl)
    u = _ldexp(th + tl, q)
    return _ZERO if dh < _M104 else u


@njit(**_JI)
def _signbit(v):
    return math.copysign(1.0, v) < 0.0


@njit(**_JI)
def sleef_powf(x, y):
    """SLEEF ``xpowf`` (u10) for float32 scalars (branch-free, so loops over it vectorise)."""
    ay, ax = abs(y), abs(x)
    yisint = (np.trunc(y) == y) | (ay > _TWO24)
    yisodd = ((_cvt_i32(np.trunc(y)) & 1) == 1) & yisint & (ay < _TWO24)
    lh, ll = _logk(ax)
    ph, pl = _mul_f2f(lh, ll, y)
    r = _expk(ph, pl)
    r = _INF if r != r else r
    r = r * (_ONE if x > _ZERO else ((-_ONE if yisodd else _ONE) if yisint else _NAN))
    efx = -(ax - _ONE) if _signbit(y) else ax - _ONE
    r_yinf = _ZERO if efx < _ZERO else (_ONE if efx == _ZERO else _INF)
    r = r_yinf if ay == _INF else r
    r_x0 = _ZERO if _signbit(y) != (x == _ZERO) else _INF
    r_x0 = -r_x0 if yisodd & _signbit(x) else r_x0
    r = r_x0 if (ax == _INF) | (x == _ZERO) else r
    r = _NAN_ALL if (x != x) | (y != y) else r
    return _ONE if (y == _ZERO) | (x == _ONE) else r


# ---------------------------------------------------------------- float64: SLEEF's logk / expk / xpow
_D = np.float64
_NAN64_ALL = np.uint64(0xFFFFFFFFFFFFFFFF).view(np.float64)
_R075_64, _TWO64 = 1.0 / 0.75, 2.0**64
_LN2_HI64, _LN2_LO64 = 0.693147180559945286226764, 2.319046813846299558417771e-17
_C_HI64, _C_LO64 = 0.666666666666666629659233, 3.80554962542412056336616e-17
_LOG_C = (0.116255524079935043668677, 0.103239680901072952701192, 0.117754809412463995466069,
          0.13332981086846273921509, 0.153846227114512262845736, 0.181818180850050775676507,
          0.222222222230083560345903, 0.285714285714249172087875, 0.400000000000000077715612)
_EXP_C = (2.51069683420950419527139e-08, 2.76286166770270649116855e-07, 2.75572496725023574143864e-06,
          2.48014973989819794114153e-05, 0.000198412698809069797676111, 0.0013888888939977128960529,
          0.00833333333332371417601081, 0.0416666666665409524128449, 0.166666666666666740681535,
          0.500000000000000999200722)
_L2U64, _L2L64 = .69314718055966295651160180568695068359375, .28235290563031577122588448175013436025525412068e-12
_R_LN2_64, _LOG_DBL_MAX = 1.442695040888963407359924681001892137426645954152985934135449406931, 709.782712893384


@njit(**_JI)
def _normal_bits64(v):
    b = _f64_bits(v)
    sub = ((b >> 52) & 0x7FF) == 0
    return (_f64_bits(v * _TWO64) if sub else b), (1023 + 64 if sub else 1023)


@njit(**_JI)
def _poly4(x, x2, c3, c2, c1, c0):
    return _fma(x2, _fma(x, c3, c2), _fma(x, c1, c0))


@njit(**_JI)
def _poly8(x, x2, x4, c):  # Estrin, as SLEEF's POLY8 of c[-8:] (highest degree first)
    n = len(c)
    return _fma(x4, _poly4(x, x2, c[n - 8], c[n - 7], c[n - 6], c[n - 5]),
                _poly4(x, x2, c[n - 4], c[n - 3], c[n - 2], c[n - 1]))


@njit(**_JI)
def _pow2i64(q):
    return _bits_f64(_w32(_w32(q + 0x3FF) << 20) << 32)


@njit(**_JI)
def _logk64(d):
    b, bias = _normal_bits64(d * _R075_64)
    e = _D(((b >> 52) & 0x7FF) - bias)
    bm, _ = _normal_bits64(d)
    m = _bits_f64((bm & 0xFFFFFFFFFFFFF) | ((1022 if bm & 0x8000000000000 else 1023) << 52))
    nh, nl = _add2_ff(-1.0, m)
    dh, dl = _add2_ff(1.0, m)
    xh, xl = _div(nh, nl, dh, dl)
    x2h, x2l = _squ(xh, xl)
    x4 = x2h * x2h
    x8 = x4 * x4
    t = _fma(x8 * x8, _LOG_C[0], _poly8(x2h, x4, x8, _LOG_C))
    sh, sl = _mul_f2f(_LN2_HI64, _LN2_LO64, e)
    sh, sl = _add_f2f2(sh, sl, xh * 2.0, xl * 2.0)
    xh, xl = _mul_f2f2(x2h, x2l, xh, xl)
    ah, al = _mul_f2f2(xh, xl, _C_HI64, _C_LO64)
    sh, sl = _add_f2f2(sh, sl, ah, al)
    xh, xl = _mul_f2f2(x2h, x2l, xh, xl)
    ah, al = _mul_f2f(xh, xl, t)
    return _add_f2f2(sh, sl, ah, al)


@njit(**_JI)
def _expk64(dh, dl):
    dq = np.rint((dh + dl) * _R_LN2_64)
    q = _cvt_i32(dq)
    sh, sl = _add2_f2f(dh, dl, dq * -_L2U64)
    sh, sl = _add2_f2f(sh, sl, dq * -_L2L64)
    s = sh + sl
    sh, sl = s, (sh - s) + sl
    s2 = sh * sh
    s4 = s2 * s2
    u = _fma(s4 * s4, _fma(sh, _EXP_C[0], _EXP_C[1]), _poly8(sh, s2, s4, _EXP_C))
    th, tl = _add_ff2(1.0, sh, sl)
    ah, al = _squ(sh, sl)
    ah, al = _mul_f2f(ah, al, u)
    th, tl = _add_f2f2(th, tl, ah, al)
    h = q >> 1
    u = (th + tl) * _pow2i64(h) * _pow2i64(q - h)
    return 0.0 if dh < -1000.0 else u


@njit(**_JI)
def sleef_pow(x, y):
    """SLEEF ``xpow`` (u10) for float64 scalars (branch-free)."""
    ay, ax = abs(y), abs(x)
    yisint = np.rint(y) == y
    yisodd = (np.rint(y * 0.5) != y * 0.5) & yisint
    lh, ll = _logk64(ax)
    ph, pl = _mul_f2f(lh, ll, y)
    r = _expk64(ph, pl)
    r = np.inf if ph > _LOG_DBL_MAX else r
    r = r * (1.0 if x > 0.0 else ((-1.0 if yisodd else 1.0) if yisint else np.nan))
    efx = -(ax - 1.0) if _signbit(y) else ax - 1.0
    r_yinf = 0.0 if efx < 0.0 else (1.0 if efx == 0.0 else np.inf)
    r = r_yinf if ay == np.inf else r
    r_x0 = 0.0 if _signbit(y) != (x == 0.0) else np.inf
    r_x0 = -r_x0 if yisodd & _signbit(x) else r_x0
    r = r_x0 if (ax == np.inf) | (x == 0.0) else r
    r = _NAN64_ALL if (x != x) | (y != y) else r
    return 1.0 if (y == 0.0) | (x == 1.0) else r


@njit(**_J)
def _pow_run(x, y, out, lo, hi):
    """``out[i] = sleef_powf(x[i], y[i])`` over [lo, hi); a length-1 ``x`` or ``y`` broadcasts (one loop
    per case, so each vectorises)."""
    if x.shape[0] == 1:
        b = x[0]
        for i in range(lo, hi):
            out[i] = sleef_powf(b, y[i])
    elif y.shape[0] == 1:
        e = y[0]
        for i in range(lo, hi):
            out[i] = sleef_powf(x[i], e)
    else:
        for i in range(lo, hi):
            out[i] = sleef_powf(x[i], y[i])


@njit(**_J)
def _pow_run64(x, y, out, lo, hi):
    """:func:`_pow_run` for float64 (``sleef_pow``)."""
    if x.shape[0] == 1:
        b = x[0]
        for i in range(lo, hi):
            out[i] = sleef_pow(b, y[i])
    elif y.shape[0] == 1:
        e = y[0]
        for i in range(lo, hi):
            out[i] = sleef_pow(x[i], e)
    else:
        for i in range(lo, hi):
            out[i] = sleef_pow(x[i], y[i])


@njit(**_J)
def _pow_tails(x, y, out, bounds, step, y64):
    """The scalar ``std::pow`` of torch's loop: per run ``[bounds[k], bounds[k + 1])`` the elements past its
    last whole block of ``step`` (all of them for ``step == 0``); ``powf``, or ``pow`` in float64 against the
    float64 exponent ``y64`` of a tensor ** number (when ``y`` is empty)."""
    sx = 0 if x.shape[0] == 1 else 1
    sy = 0 if y.shape[0] == 1 else 1
    for k in range(bounds.shape[0] - 1):
        a, b = bounds[k], bounds[k + 1]
        for i in range(a + (b - a) // step * step if step else a, b):
            if y.shape[0] == 0:
                out[i] = np.float64(x[i * sx]) ** y64  # (rounded to out's dtype)
            else:
                out[i] = x[i * sx] ** y[i * sy]  # libm powf / pow


@functools.cache
def vector_lanes() -> int:
    """float32 lanes of torch's CPU kernels here: 16 (AVX-512), 8 (AVX2) or 0 (no vector path)."""
    cap = os.environ.get("ATEN_CPU_CAPABILITY", "").lower()
    if cap == "default":
        return 0
    from llvmlite import binding

    feats = binding.get_host_cpu_features()
    if cap != "avx2" and all(feats.get(f, False) for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq")):
        return 16
    return 8 if feats.get("avx2", False) and feats.get("fma", False) else 0


def _run_bounds(n: int, row: int) -> np.ndarray:
    """Start / end offsets of torch's inner-loop runs: ``at::parallel_for(0, n, GRAIN_SIZE)`` gives one
    range per thread, and each range is cut at the ends of the (coalesced) inner rows of ``row`` elements."""
    t = get_num_threads()
    t = 1 if n < _GRAIN else min(t, -(-n // _GRAIN))
    c = -(-n // t)
    cuts = np.arange(0, n, c)
    if row < n:
        cuts = np.union1d(cuts, np.arange(0, n, row))
    return np.append(cuts, n).astype(np.int64)


def _inner(shape, strides) -> tuple[int, list[int]]:
    """TensorIterator's innermost coalesced dimension: its length and each operand's element stride."""
    if not shape:
        return 1, [1 for _ in strides]
    size, inner = shape[-1], [s[-1] for s in strides]
    for d in range(len(shape) - 2, -1, -1):
        if shape[d] != 1 and size != 1 and not all(st[d] == size * i for st, i in zip(strides, inner)):
            break
        inner = [st[d] if size == 1 else i for st, i in zip(strides, inner)]
        size *= shape[d]
    return size, inner


def _dense_order(a: np.ndarray):
    """Axes that put a dense array in memory order (its transpose is C-contiguous), else None."""
    order = tuple(sorted(range(a.ndim), key=lambda d: -abs(a.strides[d])))
    return order if a.transpose(order).flags.c_contiguous else None


def pow_float(base, exponent, exponent64=None, c_order: bool = False) -> np.ndarray:
    """``base ** exponent`` as torch computes float ``pow`` (half types in float32).

    ``base`` / ``exponent``: arrays or scalars of that one dtype, broadcastable; ``exponent64``: the
    Python-number exponent of ``tensor ** number`` (float32's remainder elements compute in float64);
    ``c_order``: the output is C-contiguous (``number ** tensor``), else it follows dense operands' layout."""
    x, y = np.asarray(base), np.asarray(exponent)
    dt = x.dtype
    shape = np.broadcast_shapes(x.shape, y.shape)
    if 0 in shape:
        return np.empty(shape, dt)
    orders = {_dense_order(a) if a.shape == shape else None for a in (x, y) if a.size != 1}
    order = orders.pop() if len(orders) == 1 and not c_order else None
    order = tuple(range(len(shape))) if order is None else order
    xb, yb = (np.broadcast_to(a, shape).transpose(order) for a in (x, y))
    oshape = xb.shape
    row, inner = _inner(oshape, [[s // a.itemsize for s in a.strides] for a in (xb, yb)])
    ct = np.float64 if dt == np.float64 else np.float32
    lanes = {4: vector_lanes(), 8: vector_lanes() // 2}.get(dt.itemsize, 2 * vector_lanes())  # (b)f16: twice
    step = 2 * lanes if all(s in (0, 1) for s in inner) and any(inner) else 0
    xf = x.reshape(1) if x.size == 1 else np.ascontiguousarray(xb).reshape(-1)
    yf = y.reshape(1) if y.size == 1 else np.ascontiguousarray(yb).reshape(-1)
    xf, yf = xf.astype(ct, copy=False), yf.astype(ct, copy=False)
    n = xb.size
    of = np.empty(n, ct)
    if step:
        run = _pow_run64 if ct == np.float64 else _pow_run
        parallel_chunks(lambda a, b: run(xf, yf, of, a, b), n, 16384)
    yt = yf[:0] if exponent64 is not None else yf  # empty: the remainder takes the float64 exponent
    _pow_tails(xf, yt, of, _run_bounds(n, row), step, float(exponent64) if exponent64 is not None else 0.0)
    out = of.reshape(oshape).transpose(np.argsort(order))
    if dt == ct:
        return out
    with np.errstate(over="ignore"):
        return out.astype(dt)


def pow_tensor_number(x: np.ndarray, e: float):
    """``x ** e`` for a float array and a Python-number exponent without a special case (torch rounds ``e``
    to the tensor's dtype; float32 keeps it in float64 for the remainder), else None for other dtypes."""
    if x.dtype == np.float32 or x.dtype == np.float64:
        return pow_float(x, x.dtype.type(e), exponent64=e)
    if x.dtype == np.float16 or x.dtype.name == "bfloat16":
        with np.errstate(over="ignore"):
            return pow_float(x, np.asarray(e).astype(x.dtype))
    return None
