"""Layers forward+backward through the public modules: Conv2d, LSTM, GRU, MaxPool2d, BatchNorm2d,
tensorstein vs torch, at 1 thread and at all threads (``set_num_threads``, which also caps BLAS).

Each call: ``y = layer(x)``, ``y.backward(g)`` with a fixed upstream gradient ``g`` (x and the
parameters require grad; their grads are reset to None before each call).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_layers.py [--quick]

On a shared, loaded machine the [2t] rows mostly measure the other load (two BLAS threads wait on a
busy core); compare the min columns there and rerun with more --rounds.
"""
from __future__ import annotations

import os
import sys

import harness

TITLE = "Layers forward+backward (Conv2d, LSTM, GRU, MaxPool2d, BatchNorm2d) at 1 and all threads"
LIBRARIES = ("tensorstein", "torch")

# name, builder args; conv: (N, Cin, Cout, HW, k); rnn: (T, B, I, H)
CONVS = [("conv2d 32x3x32x32 -> 32, k3", (32, 3, 32, 32, 3)),
         ("conv2d 32x32x32x32 -> 64, k3", (32, 32, 64, 32, 3)),
         ("conv2d 32x64x16x16 -> 128, k3", (32, 64, 128, 16, 3))]
RNNS = [("LSTM T50 B32 128->256", "LSTM", (50, 32, 128, 256)),
        ("GRU T50 B32 128->256", "GRU", (50, 32, 128, 256))]


def _threads_all() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def cases(lib, quick):
    import numpy as np

    T = __import__(lib)
    nn = T.nn
    T.manual_seed(0)
    rng = np.random.default_rng(0)

    def tensor(*shape, grad=False):
        t = T.from_numpy(rng.standard_normal(shape).astype(np.float32))
        return t.requires_grad_(True) if grad else t

    def fwd_bwd(layer, x, g, first=lambda y: y):
        params = list(layer.parameters())

        def step():
            x.grad = None
            for p in params:
                p.grad = None
            first(layer(x)).backward(g)
        return step

    # torch.set_num_threads; tensorstein does not export it yet, its thread-pool module has it
    threads = T if hasattr(T, "set_num_threads") else __import__(f"{lib}._kernels.parallel", fromlist=["_"])

    def with_threads(n, fn):
        def run():
            if threads.get_num_threads() != n:
                threads.set_num_threads(n)
            fn()
        return run

    built = []
    for name, (n, cin, cout, hw, k) in CONVS:
        layer = nn.Conv2d(cin, cout, k, padding=k // 2)
        built.append((name, fwd_bwd(layer, tensor(n, cin, hw, hw, grad=True), tensor(n, cout, hw, hw)),
                      2.0 * 3 * n * cout * cin * k * k * hw * hw))
    for name, mode, (t, b, i, h) in RNNS:
        layer = getattr(nn, mode)(i, h)
        gates = 4 if mode == "LSTM" else 3
        built.append((name, fwd_bwd(layer, tensor(t, b, i, grad=True), tensor(t, b, h), lambda y: y[0]),
                      2.0 * 3 * t * b * gates * h * (i + h)))
    if not quick:
        built.append(("MaxPool2d(2) 32x64x32x32", fwd_bwd(nn.MaxPool2d(2), tensor(32, 64, 32, 32, grad=True),
                                                           tensor(32, 64, 16, 16)), None))
        built.append(("BatchNorm2d(64) 32x64x32x32 train",
                      fwd_bwd(nn.BatchNorm2d(64), tensor(32, 64, 32, 32, grad=True), tensor(32, 64, 32, 32)), None))
    out = []
    for n in sorted({1, _threads_all()}):
        for name, fn, flop in built:
            out.append(harness.Case(f"{name} [{n}t]", with_threads(n, fn), warmup=2, budget_s=6 if quick else 15,
                                    work=flop, unit="GFLOP/s" if flop else "", scale=1e-9))
    return out


if __name__ == "__main__":
    sys.exit(harness.main(["layers"] + sys.argv[1:]))
