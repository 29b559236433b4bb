"""Element-wise, activation, normalisation and reduction ops: torch against tensorstein's fused kernels
(``kernels``: src/tensorstein/_kernels, NumPy in and out) and against today's tensorstein ops (the
NumPy path, autograd included).  float32, shape (n / 250, 250), n = 1e3, 1e5, 2e6; forward and
forward + backward (a random upstream gradient); all cores.

    python benchmarks/bench_elementwise.py [--quick] [--libs torch,kernels]
"""
from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import Case

TITLE = "Element-wise, activation, normalisation and reduction ops (float32, (n/250, 250))"
LIBRARIES = ("torch", "kernels", "tensorstein")
SIZES = (1_000, 100_000, 2_000_000)
OPS = ("gelu", "gelu_tanh", "sigmoid", "silu", "erf", "tanh", "softplus", "mish", "elu", "selu", "relu",
       "leaky_relu", "hardtanh", "hardswish", "pow3", "pow2", "sqrt", "add", "mul", "softmax", "log_softmax",
       "layer_norm", "rms_norm", "cross_entropy", "sum", "mean_-1", "amax_-1", "var_-1", "norm")


def _torch_ops(torch):
    """The ops through torch's API (missing ones, e.g. not yet in tensorstein, are left out)."""
    F = torch.nn.functional

    def has(mod, name, fn):
        return fn if hasattr(mod, name) else None

    return {
        "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "sigmoid": torch.sigmoid,
        "silu": F.silu, "erf": torch.erf, "tanh": torch.tanh, "softplus": has(F, "softplus", F.softplus),
        "mish": has(F, "mish", getattr(F, "mish", None)), "elu": has(F, "elu", getattr(F, "elu", None)),
        "selu": has(F, "selu", getattr(F, "selu", None)), "relu": torch.relu,
        "leaky_relu": has(F, "leaky_relu", getattr(F, "leaky_relu", None)),
        "hardtanh": has(F, "hardtanh", getattr(F, "hardtanh", None)),
        "hardswish": has(F, "hardswish", getattr(F, "hardswish", None)),
        "pow3": lambda x: torch.pow(x, 3.0), "pow2": lambda x: torch.pow(x, 2.0),
        "sqrt": lambda x: torch.pow(x, 0.5),
        "softmax": lambda x: F.softmax(x, -1), "log_softmax": lambda x: F.log_softmax(x, -1),
        "sum": lambda x: x.sum(), "mean_-1": lambda x: x.mean(-1), "amax_-1": lambda x: x.amax(-1),
        "var_-1": lambda x: x.var(-1), "norm": lambda x: torch.linalg.vector_norm(x),
    }


def _framework_cases(L, lib, quick):
    """torch and tensorstein share one API: the ops, called through autograd for forward + backward."""
    out = []
    for n in SIZES if not quick else SIZES[::2]:
        out += _framework_size(L, n)
    return out


def _framework_size(L, n):
    """Cases at one size (a function per size, so the closures bind this size's tensors)."""
    F = L.nn.functional
    ops = _torch_ops(L)
    out = []
    shape = (n // 250, 250)
    L.manual_seed(0)
    x = L.randn(*shape)
    y2 = L.randn(*shape)
    xp = x.abs() + 0.1
    w = L.randn(250)
    b = L.randn(250)
    tgt = L.randint(0, 250, (n // 250,))
    g = L.randn(*shape)
    extra = {
        "add": lambda x: x + y2, "mul": lambda x: x * y2,
        "layer_norm": lambda x: F.layer_norm(x, (250,), w, b),
        "rms_norm": (lambda x: F.rms_norm(x, (250,), w)) if hasattr(F, "rms_norm") else None,
        "cross_entropy": lambda x: F.cross_entropy(x, tgt),
    }
    number = max(1, 200_000 // n)
    for name in OPS:
        fn = extra.get(name, ops.get(name))
        if fn is None:
            continue
        inp = xp if name == "sqrt" else x
        out.append(Case(f"{name} fwd {n:.0e}", lambda fn=fn, inp=inp: fn(inp), number=number))

        def fb(fn=fn, inp=inp):
            xx = inp.detach().requires_grad_()
            y = fn(xx)
            y.backward(g if y.shape == g.shape else L.ones_like(y))

        out.append(Case(f"{name} fwd+bwd {n:.0e}", fb, number=number))
    return out


def _unary_kernels():
    from tensorstein._kernels import activations as A
    from tensorstein._kernels import pointwise as P

    return {
        "gelu": (A.gelu, A.gelu_backward), "sigmoid": (A.sigmoid, A.sigmoid_backward), "silu": (A.silu, A.silu_backward),
        "gelu_tanh": (lambda x: A.gelu(x, "tanh"), lambda g, x, y: A.gelu_backward(g, x, y, "tanh")),
        "erf": (A.erf, A.erf_backward), "tanh": (A.tanh, A.tanh_backward), "softplus": (A.softplus, A.softplus_backward),
        "mish": (A.mish, A.mish_backward), "elu": (A.elu, A.elu_backward), "selu": (A.selu, A.selu_backward),
        "relu": (A.relu, A.relu_backward), "leaky_relu": (A.leaky_relu, A.leaky_relu_backward),
        "hardtanh": (A.hardtanh, A.hardtanh_backward), "hardswish": (A.hardswish, A.hardswish_backward),
        "pow3": (lambda x: P.pow_forward(x, 3.0), lambda g, x, y: P.pow_backward(g, x, y, 3.0)),
        "pow2": (lambda x: P.pow_forward(x, 2.0), lambda g, x, y: P.pow_backward(g, x, y, 2.0)),
        "sqrt": (lambda x: P.pow_forward(x, 0.5), lambda g, x, y: P.pow_backward(g, x, y, 0.5)),
    }


def _kernel_cases(quick):
    out = []
    for n in SIZES if not quick else SIZES[::2]:
        out += _kernel_size(n)
    return out


def _kernel_size(n):
    """Cases at one size (see :func:`_framework_size`)."""
    import numpy as np

    from tensorstein._kernels import pointwise as P
    from tensorstein._kernels import reduce as K
    from tensorstein._kernels import rows as R

    unary = _unary_kernels()
    out = []
    shape = (n // 250, 250)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    y2 = rng.standard_normal(shape, dtype=np.float32)
    xp = np.abs(x) + np.float32(0.1)
    g = rng.standard_normal(shape, dtype=np.float32)
    w = rng.standard_normal(250, dtype=np.float32)
    b = rng.standard_normal(250, dtype=np.float32)
    tgt = rng.integers(0, 250, n // 250)
    one = np.float32(1.0)

    def ln_fb(x):
        _yy, m, r = R.layer_norm_forward(x, (250,), w, b)
        return R.layer_norm_backward(g, x, m, r, (250,), w, b)

    def rms_fb(x):
        _yy, r = R.rms_norm_forward(x, (250,), w)
        return R.rms_norm_backward(g, x, r, (250,), w)

    def ce_fb(x):
        _loss, lse = R.cross_entropy_forward(x, tgt)
        return R.cross_entropy_backward(one, x, tgt, lse)

    ops = {name: (f, lambda x, f=f, bk=bk: bk(g, x, f(x))) for name, (f, bk) in unary.items()}
    ops.update({
        "add": (lambda x: P.map_ufunc(np.add, x, y2), lambda x: (P.map_ufunc(np.add, x, y2), g, g)),
        "mul": (lambda x: P.map_ufunc(np.multiply, x, y2),
                lambda x: (P.map_ufunc(np.multiply, x, y2), P.map_ufunc(np.multiply, g, y2),
                           P.map_ufunc(np.multiply, g, x))),
        "softmax": (R.softmax_forward, lambda x: R.softmax_backward(g, R.softmax_forward(x), -1)),
        "log_softmax": (R.log_softmax_forward, lambda x: R.log_softmax_backward(g, R.log_softmax_forward(x), -1)),
        "layer_norm": (lambda x: R.layer_norm_forward(x, (250,), w, b), ln_fb),
        "rms_norm": (lambda x: R.rms_norm_forward(x, (250,), w), rms_fb),
        "cross_entropy": (lambda x: R.cross_entropy_forward(x, tgt), ce_fb),
        "sum": (K.sum_, lambda x: (K.sum_(x), np.broadcast_to(one, x.shape).copy())),
        "mean_-1": (lambda x: K.mean(x, -1),
                    lambda x: (K.mean(x, -1), np.broadcast_to(np.float32(1 / 250), x.shape).copy())),
        "amax_-1": (lambda x: K.amax(x, -1), lambda x: K.max_dim(x, -1)),
        "var_-1": (lambda x: K.var(x, -1), lambda x: K.var_backward(np.ones(x.shape[0], np.float32), x, -1)),
        "norm": (K.norm, lambda x: K.norm_backward(one, x, K.norm(x))),
    })
    number = max(1, 200_000 // n)
    for name in OPS:
        f, fb = ops[name]
        inp = xp if name == "sqrt" else x
        out.append(Case(f"{name} fwd {n:.0e}", lambda f=f, inp=inp: f(inp), number=number))
        out.append(Case(f"{name} fwd+bwd {n:.0e}", lambda fb=fb, inp=inp: fb(inp), number=number))
    return out


def cases(lib, quick):
    if lib == "kernels":
        return _kernel_cases(quick)
    L = __import__(lib)
    return _framework_cases(L, lib, quick)


def after(raw) -> str:
    """Geometric mean of torch / library per library (cases present in both)."""
    import statistics

    base = raw.get("torch", {}).get("results", {})
    lines = ["", "Geometric mean of torch time / library time over the cases above:"]
    for lib, d in raw.items():
        if lib == "torch":
            continue
        ratios = [statistics.median(base[n]["samples"]) / statistics.median(r["samples"])
                  for n, r in d["results"].items() if n in base and r["samples"] and base[n]["samples"]]
        if ratios:
            gm = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
            lines.append(f"  {lib}: {gm:.2f}x over {len(ratios)} cases (min {min(ratios):.2f}x)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(harness.main(["elementwise", *sys.argv[1:]]))
