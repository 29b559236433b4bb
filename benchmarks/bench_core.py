"""Core: import time, 2048x2048 float32 matmul, per-op overhead of 10,000 small
``(a @ b) * 2.0`` (3x4 @ 4x2), autograd overhead of a 1,000-op chain.

    python benchmarks/bench_core.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys

import harness

TITLE = "Core: import time, 2048x2048 matmul, per-op overhead, autograd overhead"
LIBRARIES = ("tensorstein", "torch", "numpy")


def _import_seconds(lib):
    """``import lib`` timed inside a fresh interpreter (start-up excluded)."""
    code = f"import time; t = time.perf_counter(); import {lib}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def cases(lib, quick):
    import numpy as np

    L = __import__(lib)
    n = 2048
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    x, y = rng.standard_normal((3, 4), dtype=np.float32), rng.standard_normal((4, 2), dtype=np.float32)
    if lib != "numpy":
        a, b, x, y = (L.from_numpy(t) for t in (a, b, x, y))
    out = [harness.Case("matmul 2048x2048", lambda: a @ b, work=2.0 * n**3, unit="GFLOP/s",
                        scale=1e-9)]
    if lib == "numpy":
        return out

    def overhead():
        for _ in range(10000):
            (x @ y) * 2.0

    w = L.randn(16, requires_grad=True)

    def chain():
        z = w
        for _ in range(500):
            z = z * 1.0001 + 0.0001
        z.sum().backward()

    return [harness.Case("import", lambda: _import_seconds(lib), self_timed=True, warmup=0),
            *out,
            harness.Case("overhead 10k x (a@b)*2.0", overhead, warmup=1),
            harness.Case("autograd chain 1000 ops", chain, warmup=2)]


if __name__ == "__main__":
    sys.exit(harness.main(["core"] + sys.argv[1:]))
