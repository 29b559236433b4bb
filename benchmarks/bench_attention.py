"""Scaled-dot-product attention: tensorstein's and torch's public
``F.scaled_dot_product_attention`` (forward, and forward + backward), and a
naive NumPy version (full score matrix, one head at a time), float32,
B=1, H=12, d=64; plus the peak extra memory of a causal N=16384 forward.

FLOP counts: forward 4*B*H*L*S*d (halved for causal); forward + backward
counts 2.5x the forward.

    python benchmarks/bench_attention.py [--quick]
"""

from __future__ import annotations

import functools
import os
import sys

import harness

TITLE = "Scaled-dot-product attention (float32, B=1, H=12, d=64)"
LIBRARIES = ("torch", "tensorstein", "numpy")
PLOTS = os.path.join(harness.HERE, "plots")


def fwd_flops(B, H, N, d, causal):
    return 4.0 * B * H * N * N * d * (0.5 if causal else 1.0)


def _shapes(quick):
    ns = (512, 2048) if quick else (512, 2048, 8192)
    out = [("fwd", n, c) for n in ns for c in (False, True)]
    return out + [("fwdbwd", 1024, True)]


def _name(kind, n, causal):
    return f"{kind} N={n} {'causal' if causal else 'full'}"


def _library(lib):
    """(to_input(array, grad), fwd(q, k, v, causal), fwdbwd(q, k, v, do, causal))."""
    import numpy as np

    if lib in ("torch", "tensorstein"):
        T = __import__(lib)
        F = T.nn.functional

        def to_input(a, grad=False):
            return T.tensor(a, requires_grad=grad)

        def fwd(q, k, v, causal):
            with T.no_grad():
                return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

        def fwdbwd(q, k, v, do, causal):
            for t in (q, k, v):
                t.grad = None
            F.scaled_dot_product_attention(q, k, v, is_causal=causal).backward(do)

        return to_input, fwd, fwdbwd

    def head(q, k, v, causal):
        s = q @ k.T
        s *= np.float32(1.0 / np.sqrt(q.shape[-1]))
        if causal:
            s[np.triu_indices(s.shape[0], 1, s.shape[1])] = -np.inf
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        return s @ v, s

    def fwd(q, k, v, causal):
        return np.stack([head(q[0, h], k[0, h], v[0, h], causal)[0] for h in range(q.shape[1])])

    def fwdbwd(q, k, v, do, causal):
        scale = np.float32(1.0 / np.sqrt(q.shape[-1]))
        for h in range(q.shape[1]):
            o, p = head(q[0, h], k[0, h], v[0, h], causal)
            g = do[0, h]
            _ = p.T @ g
            ds = p * (g @ v[0, h].T - (g * o).sum(-1, keepdims=True))
            _ = ds @ k[0, h] * scale, ds.T @ q[0, h] * scale

    return (lambda a, grad=False: a), fwd, fwdbwd


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _memory_case(lib, fwd, to_input, quick):
    """Causal forward at N=16384, H=8 (4096 with --quick): peak extra RSS over
    the inputs (VmHWM reset through /proc/self/clear_refs)."""
    import numpy as np

    N, H = (4096, 8) if quick else (16384, 8)
    rng = np.random.default_rng(0)
    q, k, v = (to_input(rng.standard_normal((1, H, N, 64)).astype(np.float32)) for _ in range(3))
    small = [to_input(rng.standard_normal((1, 2, 256, 64)).astype(np.float32)) for _ in range(3)]

    def run():
        base = _status_kb("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
        except OSError:
            pass
        t = harness.time.perf_counter()
        out = fwd(q, k, v, True)
        dt = harness.time.perf_counter() - t
        extra = (_status_kb("VmHWM") - base) / 1024
        del out
        return {"seconds": dt, "peak_extra_MB": extra, "output_MB": N * H * 64 * 4 / 2**20}

    fwd(*small, True)  # compiles kernels, starts thread pools
    return harness.Case(f"memory fwd N={N} causal H={H}", run, self_timed=True, repeats=1,
                        warmup=0, work=fwd_flops(1, H, N, 64, True), unit="GFLOP/s", scale=1e-9)


def cases(lib, quick):
    import numpy as np

    to_input, fwd, fwdbwd = _library(lib)
    rng = np.random.default_rng(0)
    out = []
    for kind, n, causal in _shapes(quick):
        arrs = [rng.standard_normal((1, 12, n, 64)).astype(np.float32) for _ in range(4)]
        flops = fwd_flops(1, 12, n, 64, causal) * (1 if kind == "fwd" else 2.5)
        if kind == "fwd":
            q, k, v = (to_input(a) for a in arrs[:3])
            fn = functools.partial(fwd, q, k, v, causal)
        else:
            q, k, v = (to_input(a, grad=lib != "numpy") for a in arrs[:3])
            do = to_input(arrs[3])
            fn = functools.partial(fwdbwd, q, k, v, do, causal)
        reps = 3 if n >= 8192 else None
        out.append(harness.Case(_name(kind, n, causal), fn, repeats=reps, work=flops,
                                unit="GFLOP/s", scale=1e-9))
    if lib != "numpy":
        out.append(_memory_case(lib, fwd, to_input, quick))
    return out


def after(raw):
    """Writes the forward GFLOP/s plot (benchmarks/plots/attention_gflops.png)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "\n(matplotlib missing: no plot)\n"
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for lib, d in raw.items():
        for causal, ls in ((False, "-"), (True, "--")):
            pts = []
            for name, r in d["results"].items():
                parts = name.split()
                if parts[0] == "fwd" and (parts[2] == "causal") == causal and r["samples"]:
                    pts.append((int(parts[1][2:]), r["work"] * 1e-9 / harness.statistics.median(r["samples"])))
            if pts:
                ax.plot(*zip(*sorted(pts)), ls, marker="o", label=f"{lib} {'causal' if causal else 'full'}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("sequence length N (B=1, H=12, d=64, float32)")
    ax.set_ylabel("GFLOP/s (forward, median)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(PLOTS, exist_ok=True)
    fig.savefig(os.path.join(PLOTS, "attention_gflops.png"), dpi=120)
    return "\nPlot: benchmarks/plots/attention_gflops.png\n"


if __name__ == "__main__":
    sys.exit(harness.main(["attention"] + sys.argv[1:]))
