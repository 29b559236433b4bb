"""The samples of the core ops: element-wise, reductions, shapes, indexing, the matmul family."""
from __future__ import annotations

import numpy as np

from ._infra import ALL, FLOATS, INTS, DType, OpInfo, S, T, binary_samples, broadcast_error_samples, unary_samples


def _eltwise_ops():
    ops = []
    real = ALL
    # ---- arithmetic, every spelling
    arith = {
        "add": (lambda L, a, b: L.add(a, b), lambda L, a, b: a + b, lambda L, a, b: b + a, "add_"),
        "sub": (lambda L, a, b: L.sub(a, b), lambda L, a, b: a - b, lambda L, a, b: b - a, "sub_"),
        "mul": (lambda L, a, b: L.mul(a, b), lambda L, a, b: a * b, lambda L, a, b: b * a, "mul_"),
        "div": (lambda L, a, b: L.div(a, b), lambda L, a, b: a / b, lambda L, a, b: b / a, "div_"),
    }
    for name, (fn, op, rop, inplace) in arith.items():
        dom_b = "pos" if name == "div" else "real"
        samples = binary_samples(real, domain_b=dom_b) + broadcast_error_samples()
        ops.append(OpInfo(name, fn, samples, grad=True, gradcheck=True))
        ops.append(OpInfo(f"Tensor.{name}", lambda L, a, b, _n=name: getattr(a, _n)(b), samples[::3], grad=True))
        ops.append(OpInfo(f"operator.{name}", op, samples, grad=True))
        rsamples = [s for s in samples if not isinstance(s.args[1], T)]
        rsamples = [S(s.args[0], s.args[1]) for s in rsamples]
        ops.append(OpInfo(f"reflected.{name}", rop, rsamples + samples[:4], grad=True))
        ops.append(OpInfo(f"inplace.{inplace}", lambda L, a, b, _n=inplace: a.clone().__getattribute__(_n)(b),
                          samples, grad=True))
        ops.append(OpInfo(f"augmented.{name}",
                          lambda L, a, b, _n=name: _augmented(a.clone(), b, _n), samples[::2], grad=True))
    ops.append(OpInfo("add.alpha", lambda L, a, b: L.add(a, b, alpha=2), binary_samples(("float32", "int64"))[:6],
                      grad=True))
    ops.append(OpInfo("sub.alpha", lambda L, a, b: L.sub(a, b, alpha=0.5), binary_samples(("float32",))[:6],
                      grad=True))
    ops.append(OpInfo("multiply", lambda L, a, b: L.multiply(a, b), binary_samples(("float32", "int8"))[:8],
                      grad=True))
    out_samples = [S(T((3, 4), d), T((3, 4), d), T((3, 4), od)) for d, od in
                   [("float32", "float32"), ("int32", "int32"), ("int32", "float64"), ("float32", "int32")]] + \
                  [S(T((3, 4)), T((4,)), T((0,))), S(T((3, 1)), T((4,)), T((3, 4)))]
    ops.append(OpInfo("mul.out", lambda L, a, b, o: _out_call(L.mul, (a, b), o), out_samples))
    ops.append(OpInfo("multiply.out", lambda L, a, b, o: _out_call(L.multiply, (a, b), o), out_samples))

    fd = binary_samples(real, domain_b="pos") + broadcast_error_samples()
    for name, fn, op, inplace in [
        ("floor_divide", lambda L, a, b: L.floor_divide(a, b), lambda L, a, b: a // b, "floor_divide_"),
        ("remainder", lambda L, a, b: L.remainder(a, b), lambda L, a, b: a % b, "remainder_"),
    ]:
        ops.append(OpInfo(name, fn, fd, grad=name == "remainder"))
        ops.append(OpInfo(f"operator.{name}", op, fd))
        ops.append(OpInfo(f"reflected.{name}", lambda L, a, b, _op=op: _op(L, 7, a),
                          [S(T((2, 3), d, domain="pos")) for d in ("float32", "int64", "int8", "uint8")]))
        ops.append(OpInfo(f"inplace.{inplace}", lambda L, a, b, _n=inplace: getattr(a.clone(), _n)(b), fd[::2]))
    ops.append(OpInfo("floor_divide.neg", lambda L, a, b: a // b,
                      [S(T(np.array([-7, 7, -7, 7, 0]), d), T(np.array([2, -2, -2, 2, 3]), d))
                       for d in ("int64", "int8", "float32", "float64")]))
    ops.append(OpInfo("remainder.neg", lambda L, a, b: a % b,
                      [S(T(np.array([-7, 7, -7, 7, 0]), d), T(np.array([2, -2, -2, 2, 3]), d))
                       for d in ("int64", "int8", "float32", "float64")]))

    pow_samples = binary_samples(FLOATS, domain_a="pos", scalars=(2, 0.5, 3, -1.5)) + \
        [S(T((2, 3), d, domain="exp"), T((2, 3), d, domain="exp")) for d in INTS] + \
        [S(T((2, 3), d), 2) for d in INTS] + [S(T((2, 3), "int64"), 0.5), S(T((3,), "int32"), -1),
                                               S(T((3,), "float32", domain="pos"), T((), "int64", domain="exp"))]
    ops.append(OpInfo("pow", lambda L, a, b: L.pow(a, b), pow_samples, grad=True, gradcheck=True))
    ops.append(OpInfo("operator.pow", lambda L, a, b: a ** b, pow_samples, grad=True))
    ops.append(OpInfo("reflected.pow", lambda L, a: 2 ** a,
                      [S(T((2, 3), d)) for d in ("float32", "float64", "int64", "int8")] + [S(T((3,)))],
                      grad=True))
    ops.append(OpInfo("reflected.pow_float", lambda L, a: 1.5 ** a, [S(T((2, 3), d)) for d in ("float32", "int64")],
                      grad=True))
    ops.append(OpInfo("inplace.pow_", lambda L, a, b: a.clone().pow_(b), pow_samples[::2], grad=True))

    # ---- unary
    unary = {
        "neg": ("real", real), "abs": ("real", real), "exp": ("real", real), "log": ("pos", real),
        "log1p": ("pos", real), "sqrt": ("pos", real), "rsqrt": ("pos", real), "sin": ("real", real),
        "cos": ("real", real), "tanh": ("real", real), "sigmoid": ("real", real), "relu": ("real", real),
        "floor": ("real", real), "ceil": ("real", real), "round": ("real", real), "sign": ("real", real),
    }
    for name, (dom, dts) in unary.items():
        samples = unary_samples(dts, dom)
        diff = name not in ("floor", "ceil", "round", "sign")
        ops.append(OpInfo(name, lambda L, a, _n=name: getattr(L, _n)(a), samples, grad=True, gradcheck=diff))
        ops.append(OpInfo(f"Tensor.{name}", lambda L, a, _n=name: getattr(a, _n)(), samples[::2], grad=True))
        ops.append(OpInfo(f"inplace.{name}_", lambda L, a, _n=name: getattr(a.clone(), _n + "_")(), samples,
                          grad=True))
    ops.append(OpInfo("operator.neg", lambda L, a: -a, unary_samples(real), grad=True))
    ops.append(OpInfo("operator.abs", lambda L, a: abs(a), unary_samples(real)[:4], grad=True))
    ops.append(OpInfo("operator.invert", lambda L, a: ~a, [S(T((2, 3), d)) for d in INTS + ("bool", "float32")]))
    ops.append(OpInfo("round.decimals", lambda L, a: L.round(a, decimals=2),
                      [S(T(np.array([1.2345, -2.5551, 0.125, 1e3 + 0.0049]), d)) for d in ("float32", "float64")]))
    clamp_s = [S(T((3, 4), d), -0.5, 0.5) for d in ("float32", "float64", "float16", "bfloat16")] + \
        [S(T((3, 4), d), -2, 3) for d in INTS] + [S(T((3, 4), "int64"), 0.5, None), S(T((3, 4)), None, 0.1),
                                                  S(T((3, 4)), T((4,)), T((3, 1))), S(T((3, 4)), T((3, 4)), None),
                                                  S(T((3, 4)), 1.0, -1.0), S(T((0, 4)), 0, 1),
                                                  S(T((3, 4)), None, None, _id="clamp-none-none"),
                                                  S(T((3, 4), "int32"), -1.5, 2.5)]
    ops.append(OpInfo("clamp", lambda L, a, lo, hi: L.clamp(a, lo, hi), clamp_s, grad=True, gradcheck=True))
    ops.append(OpInfo("clip", lambda L, a, lo, hi: L.clip(a, min=lo, max=hi), clamp_s, grad=True))
    ops.append(OpInfo("Tensor.clamp", lambda L, a, lo, hi: a.clamp(min=lo, max=hi), clamp_s, grad=True))
    ops.append(OpInfo("inplace.clamp_", lambda L, a, lo, hi: a.clone().clamp_(lo, hi), clamp_s, grad=True))

    # ---- maximum/minimum/where
    mm_s = binary_samples(real, scalars=()) + broadcast_error_samples() + [
        S(T(np.array([np.nan, 1.0, 2.0, np.nan])), T(np.array([0.0, np.nan, 3.0, np.nan])), _id="nan-propagates"),
        S(T((3,)), 2.0, _id="scalar-arg")]
    for name in ("maximum", "minimum"):
        ops.append(OpInfo(name, lambda L, a, b, _n=name: getattr(L, _n)(a, b), mm_s, grad=True, gradcheck=True))
    where_s = [S(T((3, 4), "bool"), T((3, 4)), T((3, 4))), S(T((3, 1), "bool"), T((4,)), T((3, 4))),
               S(T((3, 4), "bool"), T((3, 4), "int32"), T((3, 4), "float64")),
               S(T((3, 4), "bool"), T((3, 4), "int64"), 0.5), S(T((3, 4), "bool"), 1.0, T((3, 4), "float16")),
               S(T((3, 4), "bool"), 1, 0), S(T((3, 4), "bool"), 1.0, 0),
               S(T((3, 4), "bool"), T((3, 4), "bfloat16"), T((3, 4), "bfloat16")),
               S(T((3, 4), "uint8"), T((3, 4)), T((3, 4))), S(T((2, 4), "bool"), T((3, 4)), T((3, 4))),
               S(T((0, 4), "bool"), T((4,)), 1.0), S(T((4, 3), "bool", layout="T"), T((3, 4), layout="step"), -1.0)]
    ops.append(OpInfo("where", lambda L, c, a, b: L.where(c, a, b), where_s, grad=True, gradcheck=True))
    ops.append(OpInfo("Tensor.where", lambda L, c, a, b: a.where(c, b) if not isinstance(a, (int, float)) else
                      L.where(c, a, b), where_s[:3], grad=True))

    # ---- comparisons, logical, predicates
    cmp_s = binary_samples(real, scalars=(2, 2.5, True)) + broadcast_error_samples() + [
        S(T(np.array([np.nan, 1.0, np.inf])), T(np.array([np.nan, 1.0, np.inf])), _id="nan-inf")]
    for name, op in [("eq", "__eq__"), ("ne", "__ne__"), ("lt", "__lt__"), ("le", "__le__"), ("gt", "__gt__"),
                     ("ge", "__ge__")]:
        ops.append(OpInfo(name, lambda L, a, b, _n=name: getattr(L, _n)(a, b), cmp_s))
        ops.append(OpInfo(f"Tensor.{name}", lambda L, a, b, _n=name: getattr(a, _n)(b), cmp_s[::3]))
        ops.append(OpInfo(f"operator.{name}", lambda L, a, b, _o=op: getattr(a, _o)(b), cmp_s))
    ops.append(OpInfo("greater", lambda L, a, b: L.greater(a, b), cmp_s[:5]))
    ops.append(OpInfo("less_equal", lambda L, a, b: L.less_equal(a, b), cmp_s[:5]))
    ops.append(OpInfo("reflected.lt", lambda L, a: 0.5 < a, [S(T((3,), d)) for d in ("float32", "int64")]))
    log_s = binary_samples(real, scalars=(0, 2, True)) + broadcast_error_samples()
    for name in ("logical_and", "logical_or", "logical_xor"):
        ops.append(OpInfo(name, lambda L, a, b, _n=name: getattr(L, _n)(a, b), log_s))
    ops.append(OpInfo("logical_not", lambda L, a: L.logical_not(a), unary_samples(real)))
    bit_s = [S(T((3, 4), d), T((3, 4), d)) for d in INTS + ("bool",)] + [S(T((3, 4), "uint8"), T((4,), "int8")),
                                                                       S(T((3,), "int64"), 3), S(T((3,), "bool"), True),
                                                                       S(T((3,)), T((3,)))]
    ops.append(OpInfo("operator.and", lambda L, a, b: a & b, bit_s))
    ops.append(OpInfo("operator.or", lambda L, a, b: a | b, bit_s))
    ops.append(OpInfo("operator.xor", lambda L, a, b: a ^ b, bit_s))
    for name in ("isnan", "isinf", "isfinite"):
        ops.append(OpInfo(name, lambda L, a, _n=name: getattr(L, _n)(a), unary_samples(real)))
    close_s = [S(T(np.array([1.0, 2.0, np.nan, np.inf])), T(np.array([1.0 + 1e-9, 2.1, np.nan, np.inf])))] + \
              [S(T((3, 4), d), T((3, 4), d)) for d in ("float32", "float64", "int64", "float16")] + \
              [S(T((3, 4)), T((4,))), S(T((3, 4)), T((3, 2)))]
    ops.append(OpInfo("isclose", lambda L, a, b: L.isclose(a, b), close_s))
    ops.append(OpInfo("isclose.equal_nan", lambda L, a, b: L.isclose(a, b, rtol=0.1, atol=0, equal_nan=True),
                      close_s[:1]))
    ops.append(OpInfo("allclose", lambda L, a, b: L.allclose(a, b), close_s))
    ops.append(OpInfo("allclose.self", lambda L, a, b: L.allclose(a, a + 1e-9), close_s[1:3]))
    ops.append(OpInfo("equal", lambda L, a, b: (L.equal(a, b), L.equal(a, a.clone())), close_s + [
        S(T((3,), "int64"), T((3,), "int32")), S(T((2, 3)), T((3, 2)))]))
    return ops


def _out_call(fn, args, out):
    out = out.clone()  # a resizable tensor (torch cannot resize the memory of from_numpy)
    res = fn(*args, out=out)
    return res is out, out


def _augmented(a, b, name):
    if name == "add":
        a += b
    elif name == "sub":
        a -= b
    elif name == "mul":
        a *= b
    elif name == "div":
        a /= b
    return a


def _reduction_ops():
    ops = []
    base = [T((3, 4)), T((2, 3, 4), layout="T"), T((5,), layout="step"), T(()), T((0, 3))]
    dims = [dict(), dict(dim=0), dict(dim=-1), dict(dim=1, keepdim=True), dict(dim=(0, -1))]

    def samples(dtypes=ALL, dim_required=False, domain="real", extra_kw=({},)):
        out = []
        for t in base:
            for kw in dims:
                if not kw and dim_required:
                    continue
                for ekw in extra_kw:
                    out.append(S(T(t.shape, t.dtype, t.layout, domain=domain), **kw, **ekw))
        for d in dtypes:
            if d == "float32":
                continue
            out.append(S(T((3, 4), d, domain=domain), **({} if not dim_required else {"dim": 1})))
            out.append(S(T((3, 4), d, domain=domain), dim=0, **({} if dim_required else {"keepdim": True})))
        out.append(S(T((3, 4)), dim=2, _id="dim-out-of-range"))
        return out

    def red(name, L_attr=None, **kw):
        return lambda L, a, *args, **kwargs: getattr(L, name)(a, *args, **kwargs)

    ops.append(OpInfo("sum", red("sum"), samples() + [S(T((3, 4), "int8"), dtype=DType("int8")),
                                                      S(T((3, 4), "int32"), dim=1, dtype=DType("float64")),
                                                      S(T((3, 4), "float16"), dtype=DType("float32"))],
                      grad=True, gradcheck=True, tol=2))
    ops.append(OpInfo("Tensor.sum", lambda L, a, **k: a.sum(**k), samples()[::4], grad=True, tol=2))
    ops.append(OpInfo("mean", red("mean"), samples() + [S(T((3, 4), "int32"), dtype=DType("float32"))],
                      grad=True, gradcheck=True, tol=2))
    ops.append(OpInfo("prod", red("prod"), [s for s in samples() if not isinstance(s.kwargs.get("dim"), tuple)] +
                      [S(T((3, 4), "int32"), dtype=DType("float64")), S(T(np.array([[0.0, 2.0], [3.0, 0.0]])), dim=1),
                       S(T(np.array([[0.0, 2.0], [3.0, 4.0]])), dim=0), S(T(np.array([0.0, 0.0, 3.0])))],
                      grad=True, gradcheck=True, tol=2))
    ext = [s for s in samples(ALL) if not isinstance(s.kwargs.get("dim"), tuple)]
    for name in ("max", "min"):
        ops.append(OpInfo(name, red(name), ext + [S(T(np.array([1.0, np.nan, 3.0])), _id="nan"),
                                                   S(T(np.array([[1.0, np.nan], [3.0, 2.0]])), dim=1, _id="nan-dim")],
                          grad=True, gradcheck=True))
        ops.append(OpInfo(f"Tensor.{name}", lambda L, a, *args, _n=name, **k: getattr(a, _n)(*args, **k), ext[::3],
                          grad=True))
        ops.append(OpInfo(f"{name}.binary", lambda L, a, b, _n=name: getattr(L, _n)(a, b),
                          [S(T((3, 4)), T((4,))), S(T((3,), "int32"), T((3,), "int64"))], grad=True))
    for name in ("amax", "amin"):
        ops.append(OpInfo(name, red(name), samples(ALL), grad=True, gradcheck=True))
    for name in ("argmax", "argmin"):
        ops.append(OpInfo(name, red(name), [s for s in samples(ALL) if not isinstance(s.kwargs.get("dim"), tuple)]))
    vs = []
    for t in (T((3, 4)), T((2, 3, 4), layout="T"), T((5,), layout="step"), T((1, 3))):
        for kw in (dict(), dict(dim=1), dict(dim=-1, correction=0), dict(dim=0, correction=2, keepdim=True),
                   dict(unbiased=False), dict(dim=(0, 1))):
            vs.append(S(T(t.shape, layout=t.layout), **kw))
    vs += [S(T((3, 4), d)) for d in ("float64", "float16", "bfloat16", "int64")] + \
        [S(T((3, 4), "float64"), dim=1, correction=0)]
    for name in ("var", "std"):
        ops.append(OpInfo(name, red(name), vs, grad=True, gradcheck=True, tol=2))
    norm_s = []
    for p in (2, 1, float("inf"), 3, "fro"):
        norm_s.append(S(T((3, 4)), p=p))
        norm_s.append(S(T((3, 4), layout="T"), p=p, dim=1))
    norm_s += [S(T((3, 4), d)) for d in ("float64", "float16", "bfloat16", "int64")] + \
        [S(T((3, 4)), dim=0, keepdim=True), S(T(()))]
    ops.append(OpInfo("norm", red("norm"), norm_s, grad=True, gradcheck=True, tol=2))
    lse = [S(T((3, 4)), dim=1), S(T((3, 4)), dim=(0, 1)), S(T((2, 3, 4), layout="T"), dim=-1, keepdim=True),
           S(T(np.array([[1000.0, 1000.0], [-np.inf, -np.inf]])), dim=1, _id="stable-and-all-neg-inf"),
           S(T((3, 4), "float64"), dim=0), S(T((3, 4), "int64"), dim=0), S(T((3, 4), "float16"), dim=1)]
    ops.append(OpInfo("logsumexp", red("logsumexp"), lse, grad=True, gradcheck=True))
    cs = [S(T((3, 4)), dim=d) for d in (0, 1, -1)] + [S(T((3, 4), d), dim=1) for d in ALL if d != "float32"] + \
        [S(T((3, 4), "int32"), dim=0, dtype=DType("float32")), S(T((5,), layout="step"), dim=0),
         S(T((0, 3)), dim=0), S(T(()), dim=0), S(T((3, 4)), dim=2)]
    ops.append(OpInfo("cumsum", red("cumsum"), cs, grad=True, gradcheck=True, tol=2))
    ops.append(OpInfo("Tensor.cumsum", lambda L, a, **k: a.cumsum(**k), cs[:3], grad=True, tol=2))
    al = [S(T((3, 4), d), **kw) for d in ALL for kw in (dict(), dict(dim=1))] + \
        [S(T((3, 4), "bool"), dim=0, keepdim=True), S(T((0, 3), "bool")), S(T((0, 3), "bool"), dim=1)]
    ops.append(OpInfo("all", red("all"), al))
    ops.append(OpInfo("any", red("any"), al))
    sm = [S(T((3, 4)), dim=d) for d in (0, 1, -1)] + [S(T((2, 3, 4), layout="T"), dim=1),
                                                       S(T((3, 4), "float64"), dim=1), S(T((3, 4), "float16"), dim=1),
                                                       S(T((3, 4), "bfloat16"), dim=1), S(T(()), dim=0),
                                                       S(T((3, 4)), dim=1, dtype=DType("float64")),
                                                       S(T((3, 4), "int64"), dim=1),
                                                       S(T((3, 4), "int64"), dim=1, dtype=DType("float32")),
                                                       S(T(np.array([[1000.0, 0.0], [-np.inf, 0.0]])), dim=1),
                                                       S(T((0, 4)), dim=1), S(T((3, 4)), dim=3)]
    for name in ("softmax", "log_softmax"):
        ops.append(OpInfo(name, lambda L, a, _n=name, **k: getattr(L, _n)(a, **k), sm, grad=True, gradcheck=True))
        ops.append(OpInfo(f"Tensor.{name}", lambda L, a, _n=name, **k: getattr(a, _n)(**k), sm[:4], grad=True))
    return ops


def _shape_ops():
    ops = []
    x = lambda *s, **k: T(s, **k)  # noqa: E731
    dts = [S(x(2, 3, 4, dtype=d)) for d in ALL]

    def op(name, fn, samples, grad=True, **kw):
        ops.append(OpInfo(name, fn, samples, grad=grad, **kw))

    op("view", lambda L, a, *s: a.view(*s),
       [S(x(2, 3, 4), 6, 4), S(x(2, 3, 4), -1), S(x(2, 3, 4), (4, -1)), S(x(2, 3, 4), 2, -1, 2),
        S(x(2, 3, 4, layout="T"), 24, _id="noncontig-raises"), S(x(2, 3, 4, layout="T"), 2, 12, _id="noncontig-split"),
        S(x(2, 3, 4, layout="T"), 6, 2, 2, _id="noncontig-ok"), S(x(2, 3, 4), 5, -1), S(x(2, 3, 4), -1, -1),
        S(x(0, 3), -1, 3), S(x(), 1), S(x(2, 3, 4), DType("int32")), S(x(2, 3, 4), DType("float64"))])
    op("reshape", lambda L, a, *s: L.reshape(a, s if len(s) != 1 or not isinstance(s[0], tuple) else s[0]),
       [S(x(2, 3, 4), 6, 4), S(x(2, 3, 4, layout="T"), -1), S(x(2, 3, 4, layout="step"), (4, -1)),
        S(x(2, 3, 4), 7, -1), S(x(), ()), S(x(0, 4), 0, -1), S(x(0, 4), -1)] +
       [S(x(2, 3, dtype=d), 3, 2) for d in ALL])
    op("Tensor.reshape", lambda L, a, *s: a.reshape(*s), [S(x(2, 3, 4), 4, 6), S(x(6), (2, 3))])
    op("flatten", lambda L, a, *s: L.flatten(a, *s), [S(x(2, 3, 4)), S(x(2, 3, 4), 1), S(x(2, 3, 4, layout="T"), 0, 1),
                                                       S(x()), S(x(2, 3, 4), 2, 1), S(x(2, 3, 4), -2, -1)])
    op("unflatten", lambda L, a, *s: L.unflatten(a, *s), [S(x(2, 12), 1, (3, 4)), S(x(2, 12), -1, (-1, 2)),
                                                           S(x(2, 12), 1, (5, 3))])
    op("squeeze", lambda L, a, *s: L.squeeze(a, *s), [S(x(1, 3, 1)), S(x(1, 3, 1), 0), S(x(1, 3, 1), 1),
                                                       S(x(1, 3, 1), (0, 2)), S(x(1, 3, 1), -1), S(x()), S(x(1, 3), 5)])
    op("unsqueeze", lambda L, a, d: L.unsqueeze(a, d), [S(x(2, 3), d) for d in (0, 1, 2, -1, -3, 3)] + [S(x(), 0)])
    op("transpose", lambda L, a, *d: L.transpose(a, *d), [S(x(2, 3, 4), 0, 2), S(x(2, 3), -1, -2), S(x(3), 0, 0),
                                                          S(x(2, 3), 0, 2)])
    op("permute", lambda L, a, *d: a.permute(*d), [S(x(2, 3, 4), 2, 0, 1), S(x(2, 3, 4), (1, 0, 2)),
                                                   S(x(2, 3, 4), 0, 1), S(x(2, 3, 4), 0, 0, 1),
                                                   S(x(2, 3, 4), -1, 0, 1)])
    op("t", lambda L, a: L.t(a), [S(x(2, 3)), S(x(3)), S(x()), S(x(2, 3, 4))])
    op("Tensor.t", lambda L, a: a.t(), [S(x(2, 3))])
    op("T", lambda L, a: a.T, [S(x(2, 3)), S(x(3)), S(x())])
    op("mT", lambda L, a: a.mT, [S(x(2, 3)), S(x(2, 3, 4)), S(x(3))])
    op("expand", lambda L, a, *s: a.expand(*s), [S(x(3, 1), 3, 4), S(x(3, 1), -1, 4), S(x(3, 1), 2, 3, 4),
                                                 S(x(3, 1), (2, 3, 5)), S(x(3, 2), 3, 4), S(x(3), 2, 3),
                                                 S(x(), 2, 2), S(x(3, 1), 4), S(x(3, 1), -1, -1, 2)])
    op("expand_as", lambda L, a, b: a.expand_as(b), [S(x(3, 1), x(3, 4)), S(x(4), x(2, 3, 4))])
    op("repeat", lambda L, a, *s: a.repeat(*s), [S(x(2, 3), 2, 1), S(x(2, 3), 2, 2, 2), S(x(3), (3,)),
                                                 S(x(2, 3), 2), S(x(2, 3), 0, 1)])
    op("contiguous", lambda L, a: (a.contiguous(), a.contiguous().is_contiguous(), a.is_contiguous()),
       [S(x(2, 3)), S(x(2, 3, layout="T")), S(x(4, layout="step"))])
    op("is_contiguous", lambda L, a: (a.is_contiguous(), a.t().is_contiguous() if a.dim() == 2 else None,
                                      a[:, 1:].is_contiguous() if a.dim() == 2 else None, a[1:].is_contiguous()),
       [S(x(2, 3)), S(x(3, 1)), S(x(1, 3)), S(x(4)), S(x(2, 3, layout="T"))], grad=False)
    cat_s = [S([x(2, 3), x(4, 3)]), S([x(2, 3), x(2, 5)], dim=1), S([x(2, 3), x(2, 3, layout="T")], dim=-1),
             S([x(2, 3, dtype="int32"), x(2, 3, dtype="float16")]), S([x(2, 3), x(0, 3)]), S([x(2, 3), x(0)]),
             S([x(2, 3), x(2, 4)]), S([x(2, 3), x(3)]), S([x(2, 3)], dim=2), S([x(2, 3, dtype="uint8"),
                                                                                x(1, 3, dtype="int8")])]
    op("cat", lambda L, ts_, **k: L.cat(ts_, **k), cat_s, gradcheck=True)
    st_s = [S([x(2, 3), x(2, 3)]), S([x(2, 3), x(2, 3)], dim=2), S([x(2, 3), x(2, 3)], dim=-1),
            S([x(2, 3), x(3, 2)]), S([x(), x()]), S([x(2, 3, dtype="int64"), x(2, 3, dtype="float32")], dim=1),
            S([x(2, 3), x(2, 3)], dim=3)]
    op("stack", lambda L, ts_, **k: L.stack(ts_, **k), st_s)
    op("split", lambda L, a, *s, **k: L.split(a, *s, **k),
       [S(x(5, 4), 2), S(x(5, 4), [1, 4]), S(x(5, 4), 3, dim=1), S(x(5, 4), [1, 2], dim=0), S(x(5, 4), 10)])
    op("Tensor.split", lambda L, a, *s, **k: a.split(*s, **k), [S(x(5, 4), 2, dim=1)])
    op("chunk", lambda L, a, *s, **k: L.chunk(a, *s, **k),
       [S(x(5, 4), 2), S(x(5, 4), 3, dim=1), S(x(6, 4), 4), S(x(5, 4), 10), S(x(5, 4), 0)])
    op("narrow", lambda L, a, *s: L.narrow(a, *s),
       [S(x(5, 4), 0, 1, 3), S(x(5, 4), 1, -2, 2), S(x(5, 4), 0, 3, 3), S(x(5, 4, layout="T"), 1, 0, 2)])
    op("tril", lambda L, a, *s: L.tril(a, *s), [S(x(4, 5)), S(x(4, 5), 1), S(x(2, 4, 5), -1), S(x(3))] +
       [S(x(3, 3, dtype=d)) for d in ("int64", "bool", "float16")])
    op("triu", lambda L, a, *s: L.triu(a, *s), [S(x(4, 5)), S(x(4, 5), 1), S(x(2, 4, 5), -1), S(x(3))])
    op("clone", lambda L, a: (L.clone(a), a.clone()), [S(x(2, 3, layout="T"))] + dts)
    op("detach", lambda L, a: (a.detach(), a.detach().requires_grad), dts[:3], grad=False)
    op("dtype-casts", lambda L, a: [a.float(), a.double(), a.half(), a.bfloat16(), a.long(), a.int(), a.bool(),
                                    a.to(L.int8), a.to(L.uint8), a.type_as(L.zeros(1, dtype=L.int16))],
       [S(T(np.array([-1.5, 0.0, 0.4, 2.7, 300.0, -129.7]), d)) for d in ("float32", "float64")] +
       [S(T(np.array([-3, 0, 1, 2, 127]), d)) for d in ("int64", "int8", "int32")] + [S(x(3, dtype="bool"))],
       grad=False)
    return ops


def _index_ops():
    ops = []
    x = lambda *s, **k: T(s, **k)  # noqa: E731
    i64 = lambda v: T(np.array(v), "int64")  # noqa: E731
    b = lambda v: T(np.array(v), "bool")  # noqa: E731
    idx = [
        (1,), (-1,), (slice(1, None),), (slice(None, None, 2),), (slice(None), 1), (Ellipsis, 1), (None, 1),
        (1, None, slice(None)), (slice(-2, None), slice(None, None, -1) if False else slice(1, 3)),
        ([0, 2],), ([[0, 1], [2, 0]],), (slice(None), [0, 2, 3]), ([0, 1], [1, 2]),
        (i64([0, 2, 2]),), (i64([[1], [0]]), i64([0, 3])), (b([True, False, True]),),
        (slice(None), b([True, False, True, False])), (Ellipsis, None), (), (True,), (0, 0, 0),
        (3,), (slice(None), 9), (i64([5]),), ([0, 1], [1]), (slice(None, None, -1),),
        (1, [0, 3], slice(None)), ([0, 2], slice(None), [1, 0]),
    ]
    samples = []
    for ix in idx:
        samples.append(S(x(3, 4, 5), ix))
    samples += [S(x(3, 4, layout="T"), (1, slice(None, 3))), S(x(0, 4), (slice(None), 1)),
                S(T((3, 4, 5), "int8"), ([0, 2],)), S(x(3, 4, 5, dtype="float16"), (slice(None), 1)),
                S(x(), ()), S(x(), (None,)), S(x(), (Ellipsis,)),
                S(x(3, 4), (x(3, 4, dtype="bool"),), _id="mask-2d")]
    ops.append(OpInfo("getitem", lambda L, a, ix: a[ix], samples, grad=True, gradcheck=False))
    set_s = [S(x(3, 4), (1,), 0.5), S(x(3, 4), (slice(None), 1), x(3)), S(x(3, 4), ([0, 2],), x(4)),
             S(x(3, 4), (b([True, False, True]),), -1.0), S(x(3, 4), (x(3, 4, dtype="bool"),), 7),
             S(x(3, 4, dtype="int32"), (0,), 2.7), S(x(3, 4), (Ellipsis, slice(1, 3)), x(3, 2)),
             S(x(3, 4), (i64([0, 0]),), x(2, 4)), S(x(3, 4), (1,), x(5)), S(x(3, 4), (slice(None),), x(3, 1)),
             S(x(3, 4, dtype="uint8"), (0,), 300), S(x(3, 4, dtype="bool"), (0,), 0),
             S(x(3, 4), (0,), x(4, dtype="float64")), S(x(3, 4), (5,), 1.0)]
    ops.append(OpInfo("setitem", lambda L, a, ix, v: _setitem(a.clone(), ix, v), set_s, grad=True))
    mf = [S(x(3, 4), x(3, 4, dtype="bool"), 0.5), S(x(3, 4), x(4, dtype="bool"), -np.inf),
          S(x(3, 4, dtype="int64"), x(3, 1, dtype="bool"), 3), S(x(3, 4), x(3, 4, dtype="bool"), T((), "float32")),
          S(x(3, 4), x(3, 4, dtype="uint8"), 1.0), S(x(3, 4, dtype="int32"), x(3, 4, dtype="bool"), 2.5),
          S(x(3, 4, dtype="float16"), x(4, dtype="bool"), 1.0), S(x(3, 4), x(5, dtype="bool"), 0.0),
          S(x(3, 4), x(3, 4, dtype="bool"), x(2))]
    ops.append(OpInfo("masked_fill", lambda L, a, m, v: L.masked_fill(a, m, v), mf, grad=True, gradcheck=True))
    ops.append(OpInfo("inplace.masked_fill_", lambda L, a, m, v: a.clone().masked_fill_(m, v), mf, grad=True))
    g_s = [S(x(3, 4), 1, i64([[0, 1], [3, 3], [2, 0]])), S(x(3, 4), 0, i64([[0, 1, 2, 0]])),
           S(x(3, 4), -1, i64([[0], [1], [2]])), S(x(3, 4, dtype="int32"), 1, i64([[0, 1]])),
           S(x(3, 4), 1, i64([[0, 4]])), S(x(3, 4), 1, T(np.array([[0, 1]]), "int32")),
           S(x(3, 4), 1, i64([0, 1])), S(x(3, 4, layout="T"), 0, i64([[2, 1, 0, 0]]))]
    ops.append(OpInfo("gather", lambda L, a, d, i: L.gather(a, d, i), g_s, grad=True, gradcheck=True))
    is_s = [S(x(3, 4), 0, i64([2, 0, 2])), S(x(3, 4), 1, i64([3])), S(x(3, 4), -1, i64([])),
            S(x(3, 4), 1, i64(5)), S(x(3, 4, dtype="int8"), 0, i64([1])), S(x(3, 4), 0, i64([3])),
            S(x(3, 4), 0, T(np.array([1, 0]), "int32")), S(x(3, 4), 0, T(np.array([1.0, 0.0]), "float32")),
            S(x(3, 4), 0, i64([[0, 1]]))]
    ops.append(OpInfo("index_select", lambda L, a, d, i: L.index_select(a, d, i), is_s, grad=True, gradcheck=True))
    return ops


def _setitem(a, ix, v):
    a[ix] = v
    return a


def _matmul_ops():
    ops = []
    x = lambda *s, **k: T(s, **k)  # noqa: E731
    mshapes = [((3, 4), (4, 2)), ((4,), (4,)), ((4,), (4, 2)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
               ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
               ((0, 4), (4, 2)), ((3, 0), (0, 2)), ((2, 0, 3, 4), (4, 2)), ((1, 4), (4, 1))]
    msamples = [S(x(*a), x(*b)) for a, b in mshapes]
    msamples += [S(x(3, 4, layout="T"), x(4, 2, layout="step")), S(x(2, 3, 4, layout="T"), x(2, 4, 5, layout="T"))]
    for d in ("float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8"):
        msamples.append(S(x(3, 4, dtype=d), x(4, 2, dtype=d)))
        msamples.append(S(x(2, 3, 4, dtype=d), x(4, dtype=d)))
    msamples += [
        S(T((2, 300), "int8", domain="big"), T((300, 3), "int8", domain="big"), _id="int8-K300-wraps"),
        S(T((2, 300), "uint8", domain="big"), T((300, 3), "uint8", domain="big"), _id="uint8-K300-wraps"),
        S(x(3, 4), x(4, 2, dtype="float64"), _id="f32@f64-raises"), S(x(3, 4, dtype="int64"), x(4, 2), _id="i64@f32"),
        S(x(4), x(4, dtype="float64"), _id="dot-mixed"), S(x(3, 4), x(4, dtype="float16"), _id="mv-mixed"),
        S(x(2, 3, 4), x(2, 4, 5, dtype="float64"), _id="bmm-mixed"),
        S(x(3, 4), x(5, 2), _id="mm-shape"), S(x(4), x(5), _id="dot-shape"), S(x(3, 4), x(5), _id="mv-shape"),
        S(x(5), x(4, 2), _id="vm-shape"), S(x(2, 3, 4), x(3, 5, 2), _id="bmm-batch"),
        S(x(2, 3, 4), x(2, 5, 2), _id="bmm-shape"), S(x(), x(4), _id="0d-1d"), S(x(3, 4), x(), _id="2d-0d"),
    ]
    ops.append(OpInfo("matmul", lambda L, a, b: L.matmul(a, b), msamples, grad=True, gradcheck=True, tol=2))
    ops.append(OpInfo("operator.matmul", lambda L, a, b: a @ b, msamples, grad=True, tol=2))
    ops.append(OpInfo("Tensor.matmul", lambda L, a, b: a.matmul(b), msamples[::3], grad=True, tol=2))
    ops.append(OpInfo("rmatmul", lambda L, a, b: a.__rmatmul__(b), msamples[:8], grad=True, tol=2))
    ops.append(OpInfo("linalg.matmul", lambda L, a, b: L.linalg.matmul(a, b), msamples[:10], grad=True, tol=2))
    ops.append(OpInfo("matmul.out", lambda L, a, b, o: _out_call(L.matmul, (a, b), o),
                      [S(x(3, 4), x(4, 2), x(3, 2)), S(x(2, 3, 4), x(4, 5), x(0)),
                       S(x(3, 4), x(4, 2), x(3, 2, dtype="float64"))], tol=2))
    mm_s = [S(x(3, 4), x(4, 2)), S(x(3, 4, layout="T"), x(4, 2, layout="step")), S(x(0, 4), x(4, 2)),
            S(x(3, 0), x(0, 2))] + [S(x(3, 4, dtype=d), x(4, 2, dtype=d)) for d in ALL if d != "float32"] + [
        S(x(3, 4), x(5, 2), _id="shape-3x4-5x2"), S(x(3, 4), x(4), _id="1d"), S(x(2, 3, 4), x(4, 2), _id="3d"),
        S(x(3, 4), x(4, 2, dtype="float64"), _id="mixed"), S(x(3, 4, dtype="int32"), x(4, 2, dtype="int64"))]
    ops.append(OpInfo("mm", lambda L, a, b: L.mm(a, b), mm_s, grad=True, gradcheck=True, tol=2))
    ops.append(OpInfo("Tensor.mm", lambda L, a, b: a.mm(b), mm_s[:2] + mm_s[-5:], grad=True, tol=2))
    ops.append(OpInfo("mm.out", lambda L, a, b, o: _out_call(L.mm, (a, b), o), [S(x(3, 4), x(4, 2), x(3, 2)),
                                                                                  S(x(3, 4), x(4, 2), x(0))], tol=2))
    bmm_s = [S(x(2, 3, 4), x(2, 4, 5)), S(x(2, 3, 4, layout="T"), x(2, 4, 5, layout="step")),
             S(x(0, 3, 4), x(0, 4, 5))] + [S(x(2, 3, 4, dtype=d), x(2, 4, 5, dtype=d))
                                         for d in ("float64", "float16", "bfloat16", "int64", "int8")] + [
        S(x(3, 4), x(2, 4, 5), _id="2d"), S(x(2, 3, 4), x(3, 4, 5), _id="batch"), S(x(2, 3, 4), x(2, 5, 5), _id="K"),
        S(x(2, 3, 4), x(2, 4, 5, dtype="float64"), _id="mixed"), S(x(2, 3, 4), x(4, 5), _id="2d-second")]
    ops.append(OpInfo("bmm", lambda L, a, b: L.bmm(a, b), bmm_s, grad=True, gradcheck=True, tol=2))
    mv_s = [S(x(3, 4), x(4)), S(x(3, 4, layout="T"), x(4, layout="step")), S(x(0, 4), x(4)), S(x(3, 0), x(0)),
            S(x(3, 4, dtype="int64"), x(4, dtype="int64")), S(x(3, 4, dtype="float16"), x(4, dtype="float16")),
            S(x(3, 4), x(5), _id="shape"), S(x(3, 4), x(4, 1), _id="2d-vec"), S(x(4), x(4), _id="1d-mat"),
            S(x(3, 4), x(4, dtype="float64"), _id="mixed")]
    ops.append(OpInfo("mv", lambda L, a, b: L.mv(a, b), mv_s, grad=True, gradcheck=True, tol=2))
    dot_s = [S(x(4), x(4)), S(x(4, layout="step"), x(4)), S(x(0), x(0)), S(x(4, dtype="int64"), x(4, dtype="int64")),
             S(x(4, dtype="float16"), x(4, dtype="float16")), S(x(4, dtype="bool"), x(4, dtype="bool")),
             S(x(4), x(5), _id="size"), S(x(2, 2), x(4), _id="2d"), S(x(4), x(4, dtype="float64"), _id="mixed")]
    ops.append(OpInfo("dot", lambda L, a, b: L.dot(a, b), dot_s, grad=True, gradcheck=True, tol=2))
    ops.append(OpInfo("vdot", lambda L, a, b: L.vdot(a, b), dot_s, grad=True, tol=2))
    inner_s = [S(x(4), x(4)), S(x(3, 4), x(4)), S(x(3, 4), x(2, 4)), S(x(2, 3, 4), x(5, 4)), S(x(), x(3, 4)),
               S(x(3, 4), x(3)), S(x(3, 4, dtype="int32"), x(2, 4, dtype="int32"))]
    ops.append(OpInfo("inner", lambda L, a, b: L.inner(a, b), inner_s, grad=True, gradcheck=True, tol=2))
    outer_s = [S(x(3), x(4)), S(x(3, layout="step"), x(0)), S(x(3, dtype="int64"), x(4, dtype="int8")),
               S(x(3), x(4, dtype="float64")), S(x(3, 1), x(4)), S(x(3, dtype="bool"), x(2, dtype="bool"))]
    ops.append(OpInfo("outer", lambda L, a, b: L.outer(a, b), outer_s, grad=True, gradcheck=True, tol=2))
    nanm = T(np.full((3, 2), np.nan))
    addmm_s = [S(x(3, 2), x(3, 4), x(4, 2)), S(x(2), x(3, 4), x(4, 2)), S(x(), x(3, 4), x(4, 2)),
               S(x(3, 2), x(3, 4), x(4, 2), beta=0.5, alpha=2.0), S(nanm, x(3, 4), x(4, 2), beta=0, _id="beta0-nan"),
               S(x(3, 2, dtype="int64"), x(3, 4, dtype="int64"), x(4, 2, dtype="int64"), beta=2, alpha=3),
               S(x(3, 2, dtype="float64"), x(3, 4, dtype="float64"), x(4, 2, dtype="float64")),
               S(x(3, 2, dtype="bfloat16"), x(3, 4, dtype="bfloat16"), x(4, 2, dtype="bfloat16")),
               S(x(3, 2), x(3, 4), x(5, 2), _id="shape"), S(x(3, 3), x(3, 4), x(4, 2), _id="input-shape"),
               S(x(3, 2), x(3, 4), x(4, 2, dtype="float64"), _id="mixed"),
               S(x(3, 2, dtype="float64"), x(3, 4), x(4, 2), _id="mixed-input"),
               S(x(3, 2), x(3, 4), x(4, 2), beta=0.0, alpha=0.0)]
    ops.append(OpInfo("addmm", lambda L, c, a, b, **k: L.addmm(c, a, b, **k), addmm_s, grad=True, gradcheck=True,
                      tol=2))
    ops.append(OpInfo("Tensor.addmm", lambda L, c, a, b, **k: c.addmm(a, b, **k), addmm_s[:5], grad=True, tol=2))
    ops.append(OpInfo("addmm.out", lambda L, c, a, b, o: _out_call(L.addmm, (c, a, b), o),
                      [S(x(3, 2), x(3, 4), x(4, 2), x(3, 2))], tol=2))
    addmv_s = [S(x(3), x(3, 4), x(4)), S(x(), x(3, 4), x(4)), S(x(3), x(3, 4), x(4), beta=0.5, alpha=-1),
               S(T(np.full(3, np.nan)), x(3, 4), x(4), beta=0, _id="beta0-nan"),
               S(x(3), x(3, 4), x(5), _id="shape"), S(x(3), x(3, 4, dtype="float64"), x(4), _id="mixed"),
               S(x(3, dtype="int64"), x(3, 4, dtype="int64"), x(4, dtype="int64"))]
    ops.append(OpInfo("addmv", lambda L, c, a, b, **k: L.addmv(c, a, b, **k), addmv_s, grad=True, gradcheck=True,
                      tol=2))
    baddbmm_s = [S(x(2, 3, 5), x(2, 3, 4), x(2, 4, 5)), S(x(3, 5), x(2, 3, 4), x(2, 4, 5)),
                 S(x(2, 3, 5), x(2, 3, 4), x(2, 4, 5), beta=0.5, alpha=2),
                 S(T(np.full((2, 3, 5), np.nan)), x(2, 3, 4), x(2, 4, 5), beta=0, _id="beta0-nan"),
                 S(x(2, 3, 5), x(3, 4), x(2, 4, 5), _id="batch1-2d"), S(x(2, 3, 5), x(2, 3, 4), x(2, 5, 5), _id="K"),
                 S(x(2, 3, 5, dtype="int64"), x(2, 3, 4, dtype="int64"), x(2, 4, 5, dtype="int64"))]
    ops.append(OpInfo("baddbmm", lambda L, c, a, b, **k: L.baddbmm(c, a, b, **k), baddbmm_s, grad=True,
                      gradcheck=True, tol=2))
    addbmm_s = [S(x(3, 5), x(2, 3, 4), x(2, 4, 5)), S(x(5), x(2, 3, 4), x(2, 4, 5)),
                S(x(3, 5), x(2, 3, 4), x(2, 4, 5), beta=0.5, alpha=2),
                S(T(np.full((3, 5), np.nan)), x(2, 3, 4), x(2, 4, 5), beta=0, _id="beta0-nan"),
                S(x(3, 5), x(3, 4), x(2, 4, 5), _id="batch1-2d"), S(x(3, 5), x(2, 3, 4), x(3, 4, 5), _id="batch")]
    ops.append(OpInfo("addbmm", lambda L, c, a, b, **k: L.addbmm(c, a, b, **k), addbmm_s, grad=True,
                      gradcheck=True, tol=2))
    es = [S("ij,jk->ik", x(3, 4), x(4, 2)), S("ij,jk", x(3, 4), x(4, 2)), S("...ij,...jk->...ik", x(2, 3, 4), x(4, 5)),
          S("bij,bjk->bik", x(2, 3, 4), x(2, 4, 5)), S("i,i->", x(4), x(4)), S("i,j->ij", x(3), x(4)),
          S("ij->ji", x(3, 4)), S("ij->", x(3, 4)), S("ij", x(3, 4)), S("ji", x(3, 4)), S("ii->i", x(3, 3)),
          S("ii", x(3, 3)), S("...i->...", x(2, 3, 4)), S("b...,b->...", x(2, 3, 4), x(2)),
          S("ij,jk,kl->il", x(2, 3), x(3, 4), x(4, 5)),
          S("ij,jk->ik", x(3, 4, dtype="float64"), x(4, 2, dtype="float64")),
          S("ij,jk->ik", x(3, 4), x(5, 2), _id="size-mismatch"), S("ij,jk->ik", x(3, 4), _id="operand-count"),
          S("ij,jk->ik", x(3, 4, dtype="int64"), x(4, 2, dtype="int64")),
          S("ij,jk->ik", x(3, 4, layout="T"), x(4, 2, layout="step")), S("i j , j k -> i k", x(3, 4), x(4, 2))]
    ops.append(OpInfo("einsum", lambda L, eq, *ops_: L.einsum(eq, *ops_), es, grad=True, gradcheck=True, tol=2))
    ops.append(OpInfo("einsum.list", lambda L, eq, *ops_: L.einsum(eq, list(ops_)), es[:3], grad=True, tol=2))
    td = [S(x(3, 4, 5), x(4, 5, 2)), S(x(3, 4, 5), x(4, 5, 2), dims=2), S(x(3, 4), x(4, 2), dims=1),
          S(x(3, 4, 5), x(5, 4, 2), dims=([1, 2], [1, 0])), S(x(3, 4), x(2, 5), dims=0),
          S(x(3, 4), x(4, 2), dims=([1], [0])), S(x(3, 4), x(5, 2), dims=1, _id="mismatch")]
    ops.append(OpInfo("tensordot", lambda L, a, b, **k: L.tensordot(a, b, **k), td, grad=True, gradcheck=True,
                      tol=2))
    vd = [S(x(3, 4), x(4)), S(x(2, 3, 4), x(3, 4)), S(x(3, 4), x(3, 4), dim=0), S(x(4), x(4)),
          S(x(3, 4), x(5), _id="mismatch"), S(x(3, 4, dtype="float64"), x(3, 4, dtype="float64"))]
    ops.append(OpInfo("linalg.vecdot", lambda L, a, b, **k: L.linalg.vecdot(a, b, **k), vd, grad=True,
                      gradcheck=True, tol=2))
    md = [S([x(3, 4), x(4, 5)]), S([x(3, 4), x(4, 5), x(5, 2)]), S([x(4), x(4, 5), x(5)]),
          S([x(4), x(4, 5), x(5, 2)]), S([x(3, 4), x(4)]), S([x(3, 4)], _id="one"), S([x(3, 4), x(5, 2)], _id="shape"),
          S([x(2, 3, 4), x(4, 5)], _id="3d"), S([x(3, 4), x(4, 5, dtype="float64")], _id="mixed"),
          S([x(3, 4), x(4, 5), x(5, 6), x(6, 2)])]
    ops.append(OpInfo("linalg.multi_dot", lambda L, ts_: L.linalg.multi_dot(ts_), md, grad=True, gradcheck=True,
                      tol=2))
    return ops
