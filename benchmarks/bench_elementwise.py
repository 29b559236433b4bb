"""Element-wise, activation, normalisation and reduction ops through the public API (autograd on, as a user
calls them): torch against tensorstein (and, with ``--libs torch,kernels``, against the bare kernels of
src/tensorstein/_kernels, NumPy in and out).  float32, shape (n / 250, 250), n = 1e3, 1e5, 2e6; forward and
forward + backward (a random upstream gradient); at 1 thread and at all cores.

    python benchmarks/bench_elementwise.py [--quick] [--libs torch,tensorstein,kernels]
"""
from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import Case

TITLE = "Element-wise, activation, normalisation and reduction ops (float32, (n/250, 250)), public ops"
LIBRARIES = ("torch", "tensorstein")
PLOTS = os.path.join(harness.HERE, "plots")
SIZES = (1_000, 100_000, 2_000_000)
REPEATS = 25  # timed samples per case and round: a 2e6 case takes ~0.1 ms, and the harness's default 7 samples
# left its median to the first calls' page faults and wake-ups (both libraries alike)
ROUNDS = 4  # processes per library: a process's medians of the µs-scale cases sit up to ~15% from another's (both
# libraries alike: which cores, where the buffers land); the pooled median of 4 moves less between runs than of 2
OPS = ("gelu", "gelu_tanh", "sigmoid", "silu", "erf", "tanh", "softplus", "mish", "elu", "selu", "celu", "relu",
       "leaky_relu", "hardtanh", "relu6", "hardsigmoid", "hardswish", "pow3", "pow2", "sqrt", "exp", "add", "mul",
       "mul_scalar", "softmax", "log_softmax", "layer_norm", "rms_norm", "cross_entropy", "sum", "sum_0", "mean",
       "mean_-1", "amax_-1", "max_-1", "var_-1", "std_-1", "norm")


def _torch_ops(torch):
    """The ops through torch's API (missing ones, e.g. not yet in tensorstein, are left out)."""
    F = torch.nn.functional

    def f(name):
        return getattr(F, name, None)

    return {
        "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "sigmoid": torch.sigmoid,
        "silu": F.silu, "erf": torch.erf, "tanh": torch.tanh, "softplus": f("softplus"), "mish": f("mish"),
        "elu": f("elu"), "selu": f("selu"), "celu": f("celu"), "relu": torch.relu, "leaky_relu": f("leaky_relu"),
        "hardtanh": f("hardtanh"), "relu6": f("relu6"), "hardsigmoid": f("hardsigmoid"), "hardswish": f("hardswish"),
        "pow3": lambda x: torch.pow(x, 3.0), "pow2": lambda x: torch.pow(x, 2.0),
        "sqrt": lambda x: torch.pow(x, 0.5), "exp": torch.exp, "mul_scalar": lambda x: x * 2.0,
        "softmax": lambda x: F.softmax(x, -1), "log_softmax": lambda x: F.log_softmax(x, -1),
        "sum": lambda x: x.sum(), "sum_0": lambda x: x.sum(0), "mean": lambda x: x.mean(),
        "mean_-1": lambda x: x.mean(-1),
        "amax_-1": lambda x: x.amax(-1), "max_-1": lambda x: x.max(-1)[0], "var_-1": lambda x: x.var(-1),
        "std_-1": lambda x: x.std(-1), "norm": lambda x: torch.linalg.vector_norm(x),
    }


def _threads(L):
    n = L.get_num_threads()
    return (1, n) if n > 1 else (1,)


def _framework_cases(L, lib, quick):
    """torch and tensorstein share one API: the ops, called through autograd for forward + backward."""
    out = []
    for threads in _threads(L):
        for n in SIZES if not quick else SIZES[::2]:
            out += _framework_size(L, n, threads)
    return out


def _framework_size(L, n, threads):
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
    suffix = f"{n:.0e} {threads}t"

    def at(fn):
        def run():
            if L.get_num_threads() != threads:
                L.set_num_threads(threads)
            return fn()
        return run

    for name in OPS:
        fn = extra.get(name, ops.get(name))
        if fn is None:
            continue
        inp = xp if name == "sqrt" else x
        out.append(Case(f"{name} fwd {suffix}", at(lambda fn=fn, inp=inp: fn(inp)), number=number, budget_s=3.0,
                        repeats=REPEATS))

        def fb(fn=fn, inp=inp):
            xx = inp.detach().requires_grad_()
            y = fn(xx)
            y.backward(g if y.shape == g.shape else L.ones_like(y))

        out.append(Case(f"{name} fwd+bwd {suffix}", at(fb), number=number, budget_s=3.0,
                        repeats=REPEATS))
    return out


def _unary_kernels():
    from tensorstein._kernels import activations as A
    from tensorstein._kernels import pointwise as P

    return {
        "gelu": (A.gelu, A.gelu_backward), "sigmoid": (A.sigmoid, A.sigmoid_backward),
        "silu": (A.silu, A.silu_backward),
        "gelu_tanh": (lambda x: A.gelu(x, "tanh"), lambda g, x, y: A.gelu_backward(g, x, y, "tanh")),
        "erf": (A.erf, A.erf_backward), "tanh": (A.tanh, A.tanh_backward),
        "softplus": (A.softplus, A.softplus_backward),
        "mish": (A.mish, A.mish_backward), "elu": (A.elu, A.elu_backward), "selu": (A.selu, A.selu_backward),
        "relu": (A.relu, A.relu_backward), "leaky_relu": (A.leaky_relu, A.leaky_relu_backward),
        "hardtanh": (A.hardtanh, A.hardtanh_backward), "hardswish": (A.hardswish, A.hardswish_backward),
        "pow3": (lambda x: P.pow_forward(x, 3.0), lambda g, x, y: P.pow_backward(g, x, y, 3.0)),
        "pow2": (lambda x: P.pow_forward(x, 2.0), lambda g, x, y: P.pow_backward(g, x, y, 2.0)),
        "sqrt": (lambda x: P.pow_forward(x, 0.5), lambda g, x, y: P.pow_backward(g, x, y, 0.5)),
    }


def _kernel_cases(quick):
    import tensorstein

    out = []
    for threads in _threads(tensorstein):
        for n in SIZES if not quick else SIZES[::2]:
            out += _kernel_size(n, threads)
    return out


def _kernel_size(n, threads):
    """Cases at one size (see :func:`_framework_size`)."""
    import numpy as np

    import tensorstein
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

    def at(fn):
        def run():
            if tensorstein.get_num_threads() != threads:
                tensorstein.set_num_threads(threads)
            return fn()
        return run

    for name in OPS:
        if name not in ops:
            continue
        f, fb = ops[name]
        inp = xp if name == "sqrt" else x
        suffix = f"{n:.0e} {threads}t"
        out.append(Case(f"{name} fwd {suffix}", at(lambda f=f, inp=inp: f(inp)), number=number, budget_s=3.0,
                        repeats=REPEATS))
        out.append(Case(f"{name} fwd+bwd {suffix}", at(lambda fb=fb, inp=inp: fb(inp)), number=number,
                        budget_s=3.0, repeats=REPEATS))
    return out


def cases(lib, quick):
    if lib == "kernels":
        return _kernel_cases(quick)
    L = __import__(lib)
    return _framework_cases(L, lib, quick)


def _ratios(raw, lib):
    import statistics

    base = raw.get("torch", {}).get("results", {})
    return {n: statistics.median(base[n]["samples"]) / statistics.median(r["samples"])
            for n, r in raw[lib]["results"].items() if n in base and r["samples"] and base[n]["samples"]}


def after(raw) -> str:
    """Geometric mean of torch time / library time (all cases, and per thread count), and the plot."""
    lines = ["", "Geometric mean of torch time / library time over the cases above:"]
    for lib in raw:
        if lib == "torch":
            continue
        ratios = _ratios(raw, lib)
        for label, keep in (("all", lambda n: True), ("1 thread", lambda n: n.endswith(" 1t")),
                            ("all threads", lambda n: not n.endswith(" 1t"))):
            rs = [r for n, r in ratios.items() if keep(n)]
            if rs:
                gm = math.exp(sum(math.log(r) for r in rs) / len(rs))
                worst = min(ratios, key=lambda n: ratios[n] if keep(n) else math.inf)
                lines.append(f"  {lib} ({label}): {gm:.2f}x over {len(rs)} cases (min {ratios[worst]:.2f}x: {worst})")
    return "\n".join(lines) + "\n" + _plot(raw)


def _plot(raw) -> str:
    """benchmarks/plots/elementwise.png: torch / library per op, one panel per (size, threads)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "\n(matplotlib missing: no plot)\n"
    libs = [lib for lib in raw if lib != "torch"]
    if not libs:
        return ""
    ratios = {lib: _ratios(raw, lib) for lib in libs}
    panels = sorted({" ".join(n.split()[-2:]) for r in ratios.values() for n in r},
                    key=lambda p: (p.split()[1], float(p.split()[0])))
    if not panels:
        return ""
    fig, axes = plt.subplots(len(panels), 1, figsize=(14, 2.6 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        names = [f"{op} {kind}" for op in OPS for kind in ("fwd", "fwd+bwd")]
        width = 0.8 / len(libs)
        for i, lib in enumerate(libs):
            vals = [ratios[lib].get(f"{nm} {panel}", float("nan")) for nm in names]
            ax.bar([j + i * width for j in range(len(names))], vals, width, label=lib)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=90, fontsize=6)
        ax.set_ylabel("torch / lib")
        ax.set_title(f"n = {panel.split()[0]}, {panel.split()[1][:-1]} thread(s)", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(PLOTS, exist_ok=True)
    fig.savefig(os.path.join(PLOTS, "elementwise.png"), dpi=100)
    return "\nPlot: benchmarks/plots/elementwise.png\n"


if __name__ == "__main__":
    sys.exit(harness.main(["elementwise", *sys.argv[1:]]))
