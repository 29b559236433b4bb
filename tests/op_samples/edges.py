"""Regression samples for the edge cases of issue 11 ("Wrong results"): each one compared with torch by the
differential runner (values, dtypes, shapes, or error type + first line)."""
from __future__ import annotations

import numpy as np

from ._infra import DType, OpInfo, S, T


def _x(*shape, dtype="float32", layout=None):
    return T(shape, dtype, layout=layout)


def _a(values, dtype="float32"):
    return T(np.array(values), dtype, grad=False)


def _op(ops, name, fn, samples, **kw):
    ops.append(OpInfo(f"edge.{name}", fn, samples, **kw))


def _values(ops):
    _op(ops, "mul_half_big_scalar", lambda L, a, s: a * s,
        [S(_a([0.01, 2.0, -3.5], d), s) for d in ("float16", "bfloat16") for s in (1e5, 1e6, 70000, 1e-8)])
    _op(ops, "rmul_half_big_scalar", lambda L, a, s: s * a, [S(_a([0.01, 2.0], "float16"), 1e5)])
    _op(ops, "add_half_big_scalar", lambda L, a, s: a + s, [S(_a([0.01, 2.0], "float16"), 1e5)])
    _op(ops, "div_half_small_scalar", lambda L, a, s: a / s, [S(_a([0.01, 2.0], "float16"), 1e-5)])
    special = [np.nan, np.inf, -np.inf, 1.0, -2.5]
    _op(ops, "nan_to_num", lambda L, a, **kw: L.nan_to_num(a, **kw),
        [S(_a(special, d)) for d in ("bfloat16", "float16", "float32", "float64")] +
        [S(_a(special, "bfloat16"), nan=1.5, posinf=100.0, neginf=-100.0)])
    _op(ops, "take_along_dim_bcast", lambda L, a, i, d: L.take_along_dim(a, i, d),
        [S(_x(3, 4), _a([[0], [2], [1]], "int64"), 1), S(_x(3, 4), _a([[0, 3, 1]], "int64"), 1),
         S(_x(2, 3, 4), _a([[[1, 0]]], "int64"), 2), S(_x(3, 4), _a([[0, 1]], "int64"), None)])
    _op(ops, "prod_dtype", lambda L, a, **kw: L.prod(a, **kw),
        [S(_a([1, 2, 3], "int8"), dtype=DType("float32")), S(_x(2, 3), dtype=DType("float64")),
         S(_a([1.5, 2.25, 3.0], "bfloat16"), dtype=DType("float32")), S(_x(2, 3), 1, dtype=DType("float64")),
         S(_a([[1, 2], [3, 4]], "int32"), 0, dtype=DType("int8"))])
    _op(ops, "std_bf16", lambda L, a, *d: L.std(a, *d),
        [S(_a([1.0, 2.0, 3.5, 4.25, 100.0], "bfloat16")), S(_x(3, 5, dtype="bfloat16"), 1),
         S(_x(3, 5, dtype="float16"), 0)])
    _op(ops, "var_bf16", lambda L, a: L.var(a), [S(_a([1.0, 2.0, 3.5, 4.25, 100.0], "bfloat16"))])
    neg = _a([[0, -1], [1, 0]], "int64")
    _op(ops, "gather_neg", lambda L, a, i: L.gather(a, 1, i), [S(_x(2, 3), neg)])
    _op(ops, "gather_oob", lambda L, a, i: L.gather(a, 1, i), [S(_x(2, 3), _a([[0, 3]], "int64"))])
    _op(ops, "gather_0d", lambda L, a, i: L.gather(a, 0, i),
        [S(_x(), _a(0, "int64")), S(_x(), _a([0], "int64")), S(_x(3), _a(1, "int64"))])
    _op(ops, "scatter_add_neg", lambda L, a, i, s: L.scatter_add(a, 1, i, s), [S(_x(2, 3), neg, _x(2, 2))])
    _op(ops, "index_add_neg", lambda L, a, i, s: L.index_add(a, 0, i, s),
        [S(_x(3, 2), _a([0, -1], "int64"), _x(2, 2)), S(_x(3, 2), _a([0, 3], "int64"), _x(2, 2))])
    _op(ops, "fmod_int_zero", lambda L, a, b: L.fmod(a, b),
        [S(_a([5, -3], "int64"), 0), S(_a([5, -3], "int32"), _a([0, 2], "int32"))])
    _op(ops, "remainder_int_zero", lambda L, a, b: L.remainder(a, b), [S(_a([5, -3], "int64"), 0)])
    _op(ops, "nansum_int", lambda L, a, *d: L.nansum(a, *d),
        [S(_a([1, 2, 3], d)) for d in ("int8", "int32", "uint8", "bool")] + [S(_a([[1, 2], [3, 4]], "int16"), 1)])
    _op(ops, "square_bool", lambda L, a: L.square(a), [S(_a([True, False], "bool"))])
    _op(ops, "cat_empty_promotion", lambda L, a, b: L.cat([a, b]),
        [S(_x(3), T(np.zeros(0), "float64")), S(T(np.zeros(0), "float64"), _x(3)), S(_a([1, 2], "int64"),
                                                                                     T(np.zeros(0), "float32"))])
    _op(ops, "addmm_int_beta", lambda L, a, b, c, **kw: L.addmm(a, b, c, **kw),
        [S(_a([[1, 2], [3, 4]], "int64"), _a([[1, 0], [0, 1]], "int64"), _a([[2, 1], [1, 2]], "int64"), beta=0.5),
         S(_a([[1, 2], [3, 4]], "int64"), _a([[1, 0], [0, 1]], "int64"), _a([[2, 1], [1, 2]], "int64"), alpha=1.5),
         S(_a([[1, 2], [3, 4]], "int64"), _a([[1, 0], [0, 1]], "int64"), _a([[2, 1], [1, 2]], "int64"), beta=2,
           alpha=3)])
    _op(ops, "arange_dtype", lambda L, *a, **kw: L.arange(*a, **kw),
        [S(2.5, dtype=DType("int64")), S(0.5, 4.2, 1.1, dtype=DType("int32")), S(-1.5, 2, 0.5, dtype=DType("int64")),
         S(2.5), S(1, 2.5), S(5, dtype=DType("float16"))])
    _op(ops, "nonzero_0d", lambda L, a, **kw: L.nonzero(a, **kw),
        [S(_a(3.0)), S(_a(0.0)), S(_a(3.0), as_tuple=True), S(_a(0, "int64"), as_tuple=True)])
    _op(ops, "chunk_empty", lambda L, a, c, d: L.chunk(a, c, d), [S(_x(0, 3), 2, 0), S(_x(2, 0), 3, 1),
                                                                   S(_x(0), 1, 0)])
    _op(ops, "zeros_float_size", lambda L, *a: L.zeros(*a), [S(2.5), S((2, 2.5)), S(2, 2.5), S(-1), S(2, -1), S("a")])
    _op(ops, "ones_float_size", lambda L, *a: L.ones(*a), [S(2.5), S(-1), S("a")])
    _op(ops, "full_float_size", lambda L, s, v: L.full(s, v), [S(2.5, 1.0), S((2.5,), 1.0), S((2, 2.5), 1.0)])
    _op(ops, "arange_bounds", lambda L, *a, **kw: L.arange(*a, **kw),
        [S(float("inf")), S(float("nan")), S(0, 10, -1), S(1, 0, 0.0), S(0, 10, -1, dtype=DType("int32")),
         S(0.5, 4.7, dtype=DType("int64")), S(7, 0, -2, dtype=DType("int64")), S(5, 0, -0.5, dtype=DType("int16"))])
    _op(ops, "linspace_inf", lambda L, *a: L.linspace(*a),
        [S(-1.5, float("inf"), 1), S(0.0, 1.0, 0), S(2.0, 3.0, 1), S(0, 1, -1)])


def _errors(ops):
    _op(ops, "where_bcast", lambda L, c, a, b: L.where(c, a, b),
        [S(_a([True, False, True], "bool"), _x(2), _x(3)), S(_a([True, False], "bool"), _x(3), _x(3))])
    _op(ops, "masked_select_bcast", lambda L, a, m: L.masked_select(a, m),
        [S(_x(2, 3), _a([True, False], "bool")), S(_x(3), _a([[True], [False]], "bool"))])
    _op(ops, "repeat_neg", lambda L, a, *r: a.repeat(*r), [S(_x(2), -1), S(_x(2), 2, -1), S(_x(2, 3), 2),
                                                         S(_x(2), 0)])
    _op(ops, "roll_0d", lambda L, a, *r: L.roll(a, *r), [S(_x(), 1), S(_x(), 1, 0), S(_x(3), 1, 1)])
    _op(ops, "flip_dims", lambda L, a, *d: a.flip(*d),
        [S(_x(2, 3), (0, 0)), S(_x(2, 3), 0, 1), S(_x(2, 3), (0, -2)), S(_x(2, 3), 2), S(_x(2, 3), 0)])
    _op(ops, "fill_expanded", lambda L, a: a.expand(3, 4).fill_(1.0), [S(_x(1, 4)), S(_x(4))])
    _op(ops, "zero_expanded", lambda L, a: a.expand(3, 4).zero_(), [S(_x(1, 4))])
    _op(ops, "full_overflow", lambda L, s, v, d: L.full(s, v, dtype=d),
        [S((2,), 300, DType("uint8")), S((2,), -1, DType("uint8")), S((2,), 1e40, DType("float32")),
         S((2,), 255, DType("uint8")), S((2,), 2.5, DType("int64")), S((2,), 128, DType("int8")),
         S((2,), 1e5, DType("float16")), S((2,), float("inf"), DType("float16")), S((2,), 1e40, DType("bfloat16")),
         S((2,), 3e38, DType("bfloat16")), S((2,), 1e20, DType("int64")), S((2,), float("nan"), DType("int32")),
         S((2,), True, DType("uint8")), S((2,), 10 ** 6, DType("int16")), S((2,), -256, DType("uint8"))])
    _op(ops, "fill_overflow", lambda L, a, v: a.clone().fill_(v),
        [S(_a([1, 2], "uint8"), 300), S(_x(2), 1e40), S(_x(2, dtype="float16"), 1e5), S(_a([1, 2], "int8"), -5)])
    _op(ops, "full_like_overflow", lambda L, a, v: L.full_like(a, v), [S(_a([1, 2], "uint8"), 300)])
    _op(ops, "einsum_repeat_out", lambda L, s, a: L.einsum(s, a), [S("ii->ii", _x(3, 3)), S("ii->i", _x(3, 3))])
    _op(ops, "zeros_huge", lambda L, *a: L.zeros(*a), [S(2 ** 40), S(2 ** 20, 2 ** 20, 2 ** 10)])
    _op(ops, "empty_dim_tensordot", lambda L, a, b, **kw: L.tensordot(a, b, **kw),
        [S(_x(3, 0), _x(0, 4), dims=1), S(_x(2, 0), _x(2, 0), dims=2), S(_x(2, 0, 3), _x(0, 3), dims=([1, 2], [0, 1]))])
    _op(ops, "empty_dim_inner", lambda L, a, b: L.inner(a, b), [S(_x(3, 0), _x(4, 0)), S(_x(0), _x(0))])


def _edge_ops():
    ops: list[OpInfo] = []
    _values(ops)
    _errors(ops)
    _nn(ops)
    return ops


def _F(name):
    return lambda L, *a, **kw: getattr(L.nn.functional, name)(*a, **kw)


def _nn(ops):
    """nn.functional: torch's dtype rules and checks (found by tests/test_fuzz_differential.py)."""
    ints = [S(_a([1, -2, 8], "int32")), S(_a([7, 0], "uint8")), S(_a([True, False], "bool"))]
    for name in ("hardtanh", "relu6", "leaky_relu", "softplus", "logsigmoid", "mish", "gelu", "silu", "elu"):
        _op(ops, f"F_{name}_int", _F(name), ints)
    _op(ops, "F_normalize_half", _F("normalize"), [S(_x(4, 3, dtype="float16"), p=1.0)])
    _op(ops, "F_layer_norm_dtypes", _F("layer_norm"),
        [S(_a([[1, 2]], "uint8"), (2,)), S(_x(2, 4), (4,), _a([1, 2, 3, 4], "int16")),
         S(_x(2, 4, dtype="float64"), (4,), _x(4)), S(_x(2, 4, dtype="bfloat16"), (4,), _x(4), _x(4)),
         S(_x(2, 4, dtype="float16"), (4,), _x(4, dtype="float64"))])
    _op(ops, "F_group_norm_dtypes", _F("group_norm"),
        [S(_a([[[1, 2], [3, 4]]], "int8"), 2), S(_x(2, 4, 3, dtype="bfloat16"), 2),
         S(_x(2, 4, 3, dtype="float16"), 2, _x(4, dtype="float16"), _x(4)),
         S(_x(2, 4, 3), 2, _a([1, 0, 1, 0], "bool"))])
    _op(ops, "F_rms_norm_checks", _F("rms_norm"),
        [S(_x(), (4,)), S(_a([[True, False]], "bool"), (2,)), S(_x(3, 4), (4,), _x()), S(_x(3), (4,))])
    t4 = _a([0, 3, 4, 1], "int64")
    _op(ops, "F_cross_entropy_checks", _F("cross_entropy"),
        [S(_x(), _a([[0, 1]], "int64")), S(_x(), _a(0, "int64")), S(_x(), _x()), S(_x(4, 5), _a([0, 3, 4, 1], "int16")),
         S(_x(4, 5), _a([0, 3, 4, 1], "uint8")), S(_a(np.ones((1, 2, 5, 3)), "int8"), _a(np.zeros((2, 0)), "int64")),
         S(_x(5), t4), S(_x(5), _a([2], "int64"), reduction="none"), S(_x(4, 5), _x(4, 3)),
         S(_a(np.ones((2, 5, 0)), "int16"), _a([1, 2, 3], "int64"))])
    _op(ops, "F_nll_loss_checks", _F("nll_loss"),
        [S(_x(0, 5), _a(0, "int64"), reduction="sum"), S(_x(2, 5), _a(0, "int64")),
         S(_x(4, 5), _a([0, 1, 2, 3], "float16")), S(_a(np.ones((2, 5, 3)), "int16"), _a(np.zeros((2, 3)), "int64")),
         S(_a(np.ones((2, 5)), "int16"), _a([0, 1], "int64")), S(_x(2, 5, 3), _a(np.zeros((2, 3)), "uint8")),
         S(_x(2, 5), _a([0, 1], "int32")), S(_x(5), t4)])
    _op(ops, "F_mse_loss_dtypes", _F("mse_loss"),
        [S(_a([1, 2], "int32"), _a([1, 3], "int32")), S(_x(3), _a(2.0, "float64")), S(_x(2), _a([True, False], "bool")),
         S(_x(2, dtype="float16"), _x(2))])
    _op(ops, "F_l1_loss_dtypes", _F("l1_loss"),
        [S(_x(2), _a([True, False], "bool")), S(_x(3), _a(2.0, "float64")),
         S(_a([1, 2], "int32"), _a([1, 3], "int32"), reduction="none")])
    _op(ops, "F_smooth_l1_loss_dtypes", _F("smooth_l1_loss"),
        [S(_x(3), _a(2.0, "float64")), S(_a([1, 2], "int32"), _a([1, 3], "int32")),
         S(_x(2), _a([True, False], "bool"))])
    _op(ops, "F_huber_loss_dtypes", _F("huber_loss"),
        [S(_x(3, dtype="float16"), _x(3)), S(_x(3), _x(3, dtype="float16")), S(_x(3), _a(2.0, "float64")),
         S(_a([1, 2], "int32"), _x(2)), S(_a([1, 2], "int32"), _a([1, 3], "int32"))])
    half = _a([0.25, 0.5, 0.75], "float32")
    _op(ops, "F_binary_cross_entropy_checks", _F("binary_cross_entropy"),
        [S(half, _a([0.5, 2.0, 0.0])), S(half, _a([0.5, np.nan, 0.0])), S(_a([0.5, np.nan, 0.1]), half),
         S(half, _a([0.5, 1.0, 0.0], "float16")), S(_a([0, 1, 1], "int32"), _a([0, 1, 1], "int32"))])
    _op(ops, "F_bce_with_logits_dtypes", _F("binary_cross_entropy_with_logits"),
        [S(_x(3), _a([0.5, 1.0, 0.0], "float16")), S(_x(3, dtype="float64"), half),
         S(_x(3), _a([0, 1, 1], "int32")), S(_a([0, 1, 1], "int32"), half), S(_x(2), _a([True, False], "bool"))])
    _op(ops, "F_kl_div_checks", _F("kl_div"),
        [S(_x(3, 4), T(np.full((3, 4), 0.3), "float32", grad=False), reduction="batchmean"),
         S(_x(), _x(3), reduction="batchmean"), S(_a([1, 2], "int32"), _x(2)), S(_x(2), _a([1, 2], "int64")),
         S(_x(3), _a([0.5, -0.5, 0.0])), S(_x(3), _a([0.5, 0.5, 0.0]), reduction="xx")])
    _op(ops, "F_embedding_checks", _F("embedding"),
        [S(_a([0, 1], "int64"), _x(3)), S(_a([0, 1], "int64"), _x()), S(_a([0, 1], "int16"), _x(5, 3)),
         S(_a([0, 1], "int32"), _x(5, 3)), S(_a([0, 1], "bool"), _x(5, 3)), S(_a([1], "int64"), _x(0, 3)),
         S(_a([6], "int64"), _x(5, 0)), S(_a([6], "int64"), _x(5, 3))])
    _op(ops, "F_linear_bias", _F("linear"),
        [S(_x(4), _x(4), _x(2)), S(_x(4), _x(4), _x(1)), S(_x(4), _x(2, 4), _x(0)), S(_x(3, 4), _x(2, 4), _x(1))])
    _op(ops, "F_bilinear_checks", _F("bilinear"),
        [S(_x(3, 4), _x(3, 2), _x(5, 4, 2), _a([1, 0, 1, 0, 1], "bool")), S(_x(), _x(), _x(5, 4, 2)),
         S(_x(3, 4), _x(3, 2), _x(), _x()), S(_x(4), _x(2), _x(5, 4, 2), _x(5)),
         S(_x(2, 3, 4), _x(2, 3, 2), _x(5, 4, 2)),
         S(_x(3, 4), _x(2, 2), _x(5, 4, 2)), S(_x(3, 4), _x(3, 2), _x(5, 4, 2, dtype="float64"))])
    _op(ops, "F_pad_modes", _F("pad"),
        [S(_x(1, 2, 3, 4), (2, 1), mode="replicate"), S(_x(0, 0, 4), (1, 1), mode="reflect"),
         S(_x(0, 3, 4), (1, 1), mode="reflect"), S(_x(2, 3), (1, 1), mode="reflect", value=1.0),
         S(_a([[True, False]], "bool"), (1, 1), mode="replicate"), S(_x(2, 3), (4, 1), mode="circular"),
         S(_x(4), (1, 1), mode="reflect")])
    _op(ops, "F_sdpa_empty_value", _F("scaled_dot_product_attention"),
        [S(_x(3, 4), _x(1, 2, 5, 4), _x(2, 0, 6)), S(_x(2, 3, 4), _x(2, 5, 4), _x(0, 5, 6))])
