"""Core benchmarks: 2048x2048 matmul, per-op overhead, import time, autograd overhead.

Each library runs in its own fresh process (PyTorch's OpenMP threads spin after work and would
slow a NumPy-based library sharing the process). Prints a table and writes
benchmarks/results/core.json.

    python benchmarks/bench_core.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

WORKERS = {
    # each snippet prints one JSON object; LIB is 'tensorstein', 'torch' or 'numpy'
    "import": """
        import time
        t = time.perf_counter()
        import {lib}
        print(json.dumps({{"seconds": time.perf_counter() - t}}))
    """,
    "matmul2048": """
        import time
        import {lib} as L
        n = 2048
        if "{lib}" == "numpy":
            rng = L.random.default_rng(0)
            a = rng.standard_normal((n, n), dtype=L.float32); b = rng.standard_normal((n, n), dtype=L.float32)
            f = lambda: a @ b
        else:
            a = L.randn(n, n); b = L.randn(n, n)
            f = lambda: L.matmul(a, b)
        f(); f()
        times = []
        for _ in range(REPEATS):
            t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
        best = min(times)
        print(json.dumps({{"seconds": best, "gflops": 2 * n ** 3 / best / 1e9}}))
    """,
    "overhead": """
        import time
        import {lib} as L
        if "{lib}" == "numpy":
            rng = L.random.default_rng(0)
            a = rng.standard_normal((3, 4), dtype=L.float32); b = rng.standard_normal((4, 2), dtype=L.float32)
        else:
            a = L.randn(3, 4); b = L.randn(4, 2)
        for _ in range(2000):
            c = (a @ b) * 2.0
        times = []
        for _ in range(REPEATS):
            t = time.perf_counter()
            for _ in range(10000):
                c = (a @ b) * 2.0
            times.append(time.perf_counter() - t)
        print(json.dumps({{"seconds": min(times)}}))
    """,
    "autograd_chain": """
        import time
        import {lib} as L
        x = L.randn(16, requires_grad=True)
        def step():
            y = x
            for _ in range(500):
                y = y * 1.0001 + 0.0001
            y.sum().backward()
        step()
        times = []
        for _ in range(REPEATS):
            t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
        print(json.dumps({{"seconds": min(times)}}))
    """,
}


def run_worker(case: str, lib: str, repeats: int) -> dict:
    code = "import json\nREPEATS = %d\n" % repeats + textwrap.dedent(WORKERS[case].format(lib=lib))
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{case}/{lib} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    cases = [("import", ["tensorstein", "torch"]), ("matmul2048", ["tensorstein", "torch", "numpy"]),
             ("overhead", ["tensorstein", "torch"]), ("autograd_chain", ["tensorstein", "torch"])]
    results = {}
    for case, libs in cases:
        results[case] = {}
        for lib in libs:
            # import time is noisy: the best of several fresh processes
            runs = [run_worker(case, lib, repeats) for _ in range(repeats if case == "import" else 1)]
            results[case][lib] = min(runs, key=lambda r: r["seconds"])
    print(f"{'case':16} {'library':12} {'seconds':>10} {'extra':>14} {'torch/this':>10}")
    for case, per_lib in results.items():
        base = per_lib.get("torch", {}).get("seconds")
        for lib, r in per_lib.items():
            extra = f"{r['gflops']:.1f} GFLOP/s" if "gflops" in r else ""
            ratio = f"{base / r['seconds']:.2f}x" if base else ""
            print(f"{case:16} {lib:12} {r['seconds']:10.4f} {extra:>14} {ratio:>10}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "core.json"), "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
