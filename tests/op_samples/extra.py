"""Samples for the registered core ops the first tables left out: the rarer element-wise and indexing ops,
creation and conversion, casts, and (compared by shape and dtype only) random sampling."""
from __future__ import annotations

import numpy as np

from ._infra import ALL, FLOATS, DType, OpInfo, S, T, binary_samples, unary_samples


def _x(*shape, dtype="float32", domain="real", layout=None):
    return T(shape, dtype, layout=layout, domain=domain)


def _i(values, dtype="int64"):
    return T(np.array(values), dtype, grad=False)


def _meta(t):
    """What a random op can be compared on: shape and dtype."""
    return tuple(t.shape), t.dtype


def _op(ops, name, fn, samples, **kw):
    ops.append(OpInfo(name, fn, samples, **kw))


def _eltwise(ops):
    pos = unary_samples(FLOATS, domain="pos", special=False)
    unit = unary_samples(FLOATS, domain="unit", special=False)
    real = unary_samples(ALL)
    for name, samples in (("exp2", real), ("expm1", real), ("log2", pos), ("log10", pos), ("tan", unit),
                          ("asin", unit), ("acos", unit), ("atan", real), ("sinh", real), ("cosh", real),
                          ("reciprocal", pos), ("erf", real), ("trunc", real), ("frac", unary_samples(FLOATS)),
                          ("square", real), ("isposinf", real), ("isneginf", real), ("nan_to_num", real)):
        _op(ops, name, lambda L, a, _n=name: getattr(L, _n)(a), samples, grad=True, gradcheck=True, tol=4)
        _op(ops, f"inplace.{name}_", lambda L, a, _n=name: getattr(a.clone(), _n + "_")(),
            [s for s in samples if s.args[0].dtype in FLOATS][:3])
    _op(ops, "clamp_min", lambda L, a, m: L.clamp_min(a, m), [S(_x(3, 4), 0.1), S(_x(3, 4, dtype="int32"), 2)],
        grad=True, gradcheck=True)
    _op(ops, "clamp_max", lambda L, a, m: L.clamp_max(a, m), [S(_x(3, 4), 0.1), S(_x(3, 4, dtype="int32"), 2)],
        grad=True, gradcheck=True)
    _op(ops, "positive", lambda L, a: L.positive(a), [S(_x(3)), S(_i([1, 2])), S(_i([True], "bool"))], grad=True)
    _op(ops, "operator.pos", lambda L, a: +a, [S(_x(3)), S(_i([True], "bool"))], grad=True)
    both = binary_samples(("float32", "float64", "int32"))[:8]
    for name in ("fmod", "fmax", "fmin", "atan2"):
        _op(ops, name, lambda L, a, b, _n=name: getattr(L, _n)(a, b),
            [s for s in both if all(not isinstance(a, T) or a.dtype != "int32" or name != "atan2" for a in s.args)],
            grad=name in ("fmod", "atan2"))
    _op(ops, "rsub", lambda L, a, b: L.rsub(a, b), [S(_x(3, 4), _x(3, 4)), S(_x(3, 4), 2.0), S(_x(4), _x(3, 4))],
        grad=True, gradcheck=True)
    ints = [S(_i([[5, 3], [-2, 7]], d), _i([[1, 6], [3, -4]], d)) for d in ("int8", "int64", "uint8")]
    ints += [S(_i([True, False, True], "bool"), _i([True, True, False], "bool")), S(_i([5, 3], "int32"), 6),
             S(_x(2, 3), _x(2, 3))]
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        _op(ops, name, lambda L, a, b, _n=name: getattr(L, _n)(a, b), ints)
    _op(ops, "bitwise_not", lambda L, a: L.bitwise_not(a), [S(s.args[0]) for s in ints])


def _indexing(ops):
    idx = _i([[0, 2, 1], [1, 0, 2]])
    _op(ops, "scatter", lambda L, a, d, i, s: L.scatter(a, d, i, s), [S(_x(2, 3), 1, idx, _x(2, 3))], grad=True,
        gradcheck=True)
    _op(ops, "scatter.value", lambda L, a, i: L.scatter(a, 1, i, value=2.5), [S(_x(2, 3), idx)])
    _op(ops, "scatter_add", lambda L, a, d, i, s: L.scatter_add(a, d, i, s),
        [S(_x(3, 3), 0, _i([[0, 1, 2], [2, 0, 0]]), _x(2, 3))], grad=True, gradcheck=True)
    _op(ops, "index_add", lambda L, a, d, i, s: L.index_add(a, d, i, s), [S(_x(4, 3), 0, _i([0, 2, 0]), _x(3, 3))],
        grad=True, gradcheck=True)
    _op(ops, "index_put", lambda L, a, i, v: L.index_put(a, (i,), v), [S(_x(4, 3), _i([0, 2]), _x(2, 3))],
        grad=True, gradcheck=True)
    _op(ops, "index_put.accumulate", lambda L, a, i, v: a.index_put((i,), v, accumulate=True),
        [S(_x(4, 3), _i([0, 2, 0]), _x(3, 3))], grad=True)
    _op(ops, "masked_select", lambda L, a, m: L.masked_select(a, m),
        [S(_x(2, 3), _i([[True, False, True], [False, False, True]], "bool")), S(_x(2, 3), _i([True, False, True],
                                                                                         "bool"))], grad=True)
    nz = [S(_i([[0, 1, 0], [2, 0, 3]])), S(_x(3, 2)), S(_i([True, False], "bool"))]
    _op(ops, "argwhere", lambda L, a: L.argwhere(a), nz)
    _op(ops, "nonzero", lambda L, a: L.nonzero(a), nz)
    _op(ops, "nonzero.as_tuple", lambda L, a: L.nonzero(a, as_tuple=True), nz)
    _op(ops, "select", lambda L, a, d, i: L.select(a, d, i), [S(_x(3, 4), 0, 1), S(_x(2, 3, 4), -1, -2),
                                                             S(_x(3, 4), 1, 5)], grad=True, gradcheck=True)
    _op(ops, "take", lambda L, a, i: L.take(a, i), [S(_x(3, 4), _i([0, 5, 11, -1]))], grad=True, gradcheck=True)
    _op(ops, "take_along_dim", lambda L, a, i, d: L.take_along_dim(a, i, d),
        [S(_x(2, 3), _i([[0, 2], [1, 1]]), 1)], grad=True, gradcheck=True)


def _shapes(ops):
    _op(ops, "adjoint", lambda L, a: L.adjoint(a), [S(_x(3, 4)), S(_x(2, 3, 4))], grad=True)
    _op(ops, "broadcast_to", lambda L, a, s: L.broadcast_to(a, s), [S(_x(3, 1), (2, 3, 4)), S(_x(3), (2, 2))],
        grad=True, gradcheck=True)
    _op(ops, "flip", lambda L, a, d: L.flip(a, d), [S(_x(3, 4), (0,)), S(_x(2, 3, 4), (0, 2))], grad=True)
    _op(ops, "roll", lambda L, a, s, d: L.roll(a, s, d), [S(_x(3, 4), 1, 0), S(_x(3, 4), (1, -2), (0, 1))],
        grad=True)
    _op(ops, "movedim", lambda L, a, s, d: L.movedim(a, s, d), [S(_x(2, 3, 4), 0, -1), S(_x(2, 3, 4), (0, 1), (2, 0))],
        grad=True)
    _op(ops, "moveaxis", lambda L, a: L.moveaxis(a, 0, 1), [S(_x(2, 3))], grad=True)
    _op(ops, "tensor_split", lambda L, a, s: L.tensor_split(a, s), [S(_x(7, 2), 3), S(_x(7, 2), (1, 4))], grad=True)
    _op(ops, "unbind", lambda L, a: L.unbind(a, 1), [S(_x(2, 3))], grad=True)
    _op(ops, "view_as", lambda L, a, b: a.view_as(b), [S(_x(3, 4), _x(2, 6))], grad=True)
    _op(ops, "reshape_as", lambda L, a, b: a.reshape_as(b), [S(_x(3, 4), _x(6, 2))], grad=True)
    for name in ("hstack", "vstack"):
        _op(ops, name, lambda L, a, b, _n=name: getattr(L, _n)([a, b]), [S(_x(2, 3), _x(2, 3)), S(_x(3), _x(3))],
            grad=True)
    _op(ops, "expand_copy", lambda L, a: L.expand_copy(a, (2, 3)), [S(_x(3))], grad=True)
    _op(ops, "is_tensor", lambda L, a: (L.is_tensor(a), L.is_tensor(3)), [S(_x(2))])
    _op(ops, "is_floating_point", lambda L, a: L.is_floating_point(a), [S(_x(2)), S(_i([1]))])
    _op(ops, "numel", lambda L, a: L.numel(a), [S(_x(2, 3)), S(_x())])
    _op(ops, "sum_to_size", lambda L, a, s: a.sum_to_size(s), [S(_x(2, 3), (3,)), S(_x(2, 3), (1, 3)),
                                                             S(_x(2, 3), (2,))], grad=True, gradcheck=True)


def _reductions(ops):
    _op(ops, "nansum", lambda L, a: L.nansum(a), [S(T(np.array([1.0, np.nan, 2.5])))], grad=True)
    _op(ops, "cumprod", lambda L, a, d: L.cumprod(a, d), [S(_x(3, 4), 1), S(_i([[1, 2], [3, 4]]), 0)], grad=True,
        gradcheck=True)
    _op(ops, "count_nonzero", lambda L, a, *d: L.count_nonzero(a, *d), [S(_i([[0, 1, 0], [2, 0, 3]])),
                                                                     S(_i([[0, 1, 0], [2, 0, 3]]), 1)])
    for name in ("var_mean", "std_mean"):
        _op(ops, name, lambda L, a, *args, _n=name, **kw: getattr(L, _n)(a, *args, **kw),
            [S(_x(3, 4)), S(_x(3, 4), 1), S(_x(3, 4), dim=0, correction=0, keepdim=True)], grad=True)


def _products(ops):
    _op(ops, "addr", lambda L, a, b, c, **kw: L.addr(a, b, c, **kw), [S(_x(3, 4), _x(3), _x(4)),
                                                                    S(_x(3, 4), _x(3), _x(4), beta=0.5, alpha=2)],
        grad=True, gradcheck=True)
    _op(ops, "chain_matmul", lambda L, a, b, c: L.chain_matmul(a, b, c), [S(_x(2, 3), _x(3, 4), _x(4, 2))],
        grad=True, tol=2)


def _creation(ops):
    _op(ops, "tensor", lambda L, *a, **kw: L.tensor(*a, **kw), [S([[1, 2], [3, 4]]), S([1.5, 2]), S([True]),
                                                               S([1, 2], dtype=DType("float16"))])
    _op(ops, "as_tensor", lambda L, a: L.as_tensor(a), [S([1, 2.5])])
    _op(ops, "asarray", lambda L, a: L.asarray(a), [S([[1, 2]])])
    _op(ops, "from_numpy", lambda L: L.from_numpy(np.arange(6, dtype=np.int32).reshape(2, 3)), [S()])
    for name in ("zeros", "ones"):
        _op(ops, name, lambda L, *a, _n=name, **kw: getattr(L, _n)(*a, **kw), [S(2, 3), S((4,), dtype=DType("int8"))])
    _op(ops, "empty", lambda L, *a: _meta(L.empty(*a)), [S(2, 3)])
    _op(ops, "full", lambda L, s, v: L.full(s, v), [S((2, 3), 1.5), S((2,), 7), S((1,), True)])
    _op(ops, "zeros_like", lambda L, a: L.zeros_like(a), [S(_x(2, 3)), S(_i([1, 2]))])
    _op(ops, "ones_like", lambda L, a: L.ones_like(a), [S(_x(2, 3)), S(_i([1, 2]))])
    _op(ops, "empty_like", lambda L, a: _meta(L.empty_like(a)), [S(_x(2, 3))])
    _op(ops, "full_like", lambda L, a, v: L.full_like(a, v), [S(_x(2, 3), 2.5), S(_i([1, 2]), 3)])
    _op(ops, "arange", lambda L, *a, **kw: L.arange(*a, **kw), [S(5), S(1, 4, 0.5), S(0, 10, 3, dtype=DType("int8"))])
    _op(ops, "linspace", lambda L, *a: L.linspace(*a), [S(0, 1, 5), S(-2.0, 2.0, 4)])
    _op(ops, "logspace", lambda L, *a: L.logspace(*a), [S(0, 2, 3), S(0, 3, 4, 2.0)])
    _op(ops, "eye", lambda L, *a: L.eye(*a), [S(3), S(2, 4)])
    _op(ops, "Tensor.new_zeros", lambda L, a: a.new_zeros(2, 3), [S(_i([1]))])
    _op(ops, "Tensor.new_ones", lambda L, a: a.new_ones((2,)), [S(_x(1, dtype="float64"))])
    _op(ops, "Tensor.new_empty", lambda L, a: _meta(a.new_empty(2)), [S(_i([1], "int8"))])
    _op(ops, "Tensor.new_full", lambda L, a: a.new_full((2, 2), 3), [S(_x(1))])
    _op(ops, "Tensor.new_tensor", lambda L, a: a.new_tensor([1, 2]), [S(_x(1, dtype="float64"))])
    _op(ops, "Tensor.zero_", lambda L, a: a.clone().zero_(), [S(_x(2, 3))])
    _op(ops, "Tensor.fill_", lambda L, a, v: a.clone().fill_(v), [S(_x(2, 3), 1.5), S(_i([1, 2]), 4)])
    _op(ops, "Tensor.copy_", lambda L, a, b: a.clone().copy_(b), [S(_x(2, 3), _x(3)), S(_x(2, 3), _i([1, 2, 3]))],
        grad=True)


def _conversion(ops):
    _op(ops, "Tensor.to", lambda L, a, d: a.to(d), [S(_x(2, 3), DType(d)) for d in ("float64", "int32", "bool")],
        grad=True)
    _op(ops, "Tensor.type_as", lambda L, a, b: a.type_as(b), [S(_x(2, 3), _i([1]))])
    _op(ops, "Tensor.type", lambda L, a: a.type().split(".")[-1], [S(_x(2)), S(_i([1], "uint8"))])
    _op(ops, "Tensor.type.name", lambda L, a: a.type("torch.DoubleTensor"), [S(_x(2))])
    for name in ("bool", "byte", "char", "short", "int", "long", "half", "bfloat16", "float", "double"):
        _op(ops, f"Tensor.{name}", lambda L, a, _n=name: getattr(a, _n)(), [S(_x(2, 3)), S(_i([1, -2, 0]))])


def _random(ops):
    shape = [S(2, 3), S(4)]
    # the streams are torch's, so seeded draws compare by value
    for name in ("rand", "randn"):
        _op(ops, name, lambda L, *a, _n=name: (L.manual_seed(5), getattr(L, _n)(*a))[1], shape)
    _op(ops, "normal", lambda L: (L.manual_seed(3), L.normal(2.0, 3.0, (2, 3)))[1], [S()])
    _op(ops, "randint", lambda L: (L.manual_seed(9), L.randint(0, 5, (2, 3)))[1], [S()])
    _op(ops, "randperm", lambda L, n: (L.manual_seed(1), L.randperm(n))[1], [S(6), S(40)])
    _op(ops, "rand_like", lambda L, a: _meta(L.rand_like(a)), [S(_x(2, 3))])
    _op(ops, "randn_like", lambda L, a: _meta(L.randn_like(a)), [S(_x(2, 3, dtype="float64"))])
    _op(ops, "randint_like", lambda L, a: _meta(L.randint_like(a, 3)), [S(_i([1, 2]))])
    _op(ops, "manual_seed", lambda L: (L.manual_seed(7), L.initial_seed())[1], [S()])
    _op(ops, "initial_seed", lambda L: (L.manual_seed(11), L.initial_seed())[1], [S()])
    _op(ops, "seed", lambda L: type(L.seed()).__name__, [S()])
    _op(ops, "get_rng_state", lambda L: L.get_rng_state().dtype, [S()])
    _op(ops, "set_rng_state", lambda L: L.set_rng_state(L.get_rng_state()), [S()])
    probs = T(np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]]), "float32", grad=False)
    _op(ops, "multinomial", lambda L, p: _meta(L.multinomial(p, 2)), [S(probs)])
    _op(ops, "bernoulli", lambda L, p: _meta(L.bernoulli(p)), [S(probs)])
    for name, args in (("normal_", ()), ("uniform_", (0.0, 2.0)), ("random_", (0, 5)), ("bernoulli_", (0.5,)),
                       ("exponential_", ())):
        _op(ops, f"Tensor.{name}", lambda L, a, _n=name, _a=args: _meta(getattr(a.clone(), _n)(*_a)), [S(_x(2, 3))])


def _extra_ops():
    ops: list[OpInfo] = []
    for part in (_eltwise, _indexing, _shapes, _reductions, _products, _creation, _conversion, _random):
        part(ops)
    return ops
