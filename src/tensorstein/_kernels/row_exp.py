"""``sum(exp(row - m))`` of a whole row in one vector pass, for row kernels (softmax, log_softmax).

float32 rows run as :mod:`.fast_exp`'s whole-row vector loop (64 floats a step, the last < 64 through masked
loads and stores: no scalar tail) with its ``exp`` polynomial; float64 rows as a loop over ``fast_exp_f64``.
Both are called from ``@njit`` code only:

* :func:`exp_sum` -- ``sum(exp(row - m))``;
* :func:`exp_sum_into` -- the same, storing ``exp(row - m)`` into ``out``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from .fast_exp import (
    FASTMATH,
    _exp_neg_emitter,
    _exp_sum_into_f64,
    _fm,
    _hreduce,
    _ir_row,
    _load,
    _splat,
    _splat_value,
    _store,
    _vptr,
    fast_exp_f64,
)

__all__ = ["exp_sum", "exp_sum_into"]


def _exp_row_codegen(context, builder, signature, args):
    """``sum(exp(arr - m))`` of the contiguous float32 row ``arr`` (args ``arr, m[, out]``), also stored
    into ``out`` if given (:func:`_exp_neg_emitter`)."""
    ary = context.make_array(signature.args[0])(context, builder, args[0])
    out = context.make_array(signature.args[2])(context, builder, args[2]) if len(args) > 2 else None
    mv = _splat_value(builder, args[1])
    exp = _exp_neg_emitter(builder)
    zero = _splat(0.0)

    def step(v, mask, acc):
        y = exp(_fm(builder.fsub, _load(builder, _vptr(builder, ary, v), mask, zero), mv))
        if out is not None:
            _store(builder, y, _vptr(builder, out, v), mask)
        if mask is not None:
            y = builder.select(mask, y, zero)
        return _fm(builder.fadd, acc, y)

    acc = _ir_row(builder, ary, zero, step)
    tot = _fm(builder.fadd, _fm(builder.fadd, acc[0], acc[1]), _fm(builder.fadd, acc[2], acc[3]))
    return _hreduce(builder, tot, lambda a, b: _fm(builder.fadd, a, b))


@intrinsic
def _exp_sum_row_f32(typingctx, arr, m):
    return types.float32(arr, m), _exp_row_codegen


@intrinsic
def _exp_row_f32(typingctx, arr, m, out):
    return types.float32(arr, m, out), _exp_row_codegen


@njit(fastmath=FASTMATH, cache=True, inline="always", error_model="numpy", boundscheck=False)
def _exp_sum_f64(row, m):
    s = 0.0
    for c in range(row.shape[0]):
        s += fast_exp_f64(row[c] - m)
    return s


def _f32_rows(*rows):
    return all(isinstance(r, types.Array) and r.dtype == types.float32 and r.layout == "C" for r in rows)


def _f64_rows(*rows):
    return all(isinstance(r, types.Array) and r.dtype == types.float64 for r in rows)


def exp_sum(row, m):  # pragma: no cover - replaced by the overload inside numba
    """``sum(exp(row - m))`` for ``row <= m`` inside ``@njit`` code (``row`` a contiguous 1-D float array;
    float32: one vector pass, no scalar tail)."""
    return np.exp(row - m).sum()


@overload(exp_sum, fastmath=FASTMATH, inline="always")
def _ov_exp_sum(row, m):
    if _f32_rows(row):
        return lambda row, m: _exp_sum_row_f32(row, np.float32(m))
    if _f64_rows(row):
        return lambda row, m: _exp_sum_f64(row, np.float64(m))
    return None


def exp_sum_into(row, m, out):  # pragma: no cover - replaced by the overload inside numba
    """``out[:] = exp(row - m)`` for ``row <= m``; returns the sum (inside ``@njit`` code; contiguous 1-D
    float arrays of one length and dtype)."""
    np.exp(row - m, out=out)
    return out.sum()


@overload(exp_sum_into, fastmath=FASTMATH, inline="always")
def _ov_exp_sum_into(row, m, out):
    if _f32_rows(row, out):
        return lambda row, m, out: _exp_row_f32(row, np.float32(m), out)
    if _f64_rows(row, out):
        return lambda row, m, out: _exp_sum_into_f64(row, np.float64(m), out)
    return None
