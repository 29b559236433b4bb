"""Layer benchmarks: conv2d and LSTM forward+backward, tensorstein vs PyTorch.

Each library runs in its own fresh process. Cases: conv2d batch 32, 32x32 images, 3x3 kernels, padding 1,
3->32 and 32->64 channels; LSTM seq 50, batch 32, 128->256. Prints a table and writes
benchmarks/results/layers.json.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_layers.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

WORKER = """
    import time
    import {lib} as L
    if "{lib}" == "torch":
        L.set_num_threads(THREADS)
    L.manual_seed(0)
    case = "{case}"
    if case.startswith("conv2d"):
        cin, cout = (3, 32) if case == "conv2d_3to32" else (32, 64)
        x = L.randn(32, cin, 32, 32, requires_grad=True)
        layer = L.nn.Conv2d(cin, cout, 3, padding=1)
        def step():
            y = layer(x)
            y.backward(L.ones_like(y))
    else:
        x = L.randn(50, 32, 128, requires_grad=True)
        layer = L.nn.LSTM(128, 256)
        def step():
            out, (h, c) = layer(x)
            out.backward(L.ones_like(out))
    step(); step()
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
    print(json.dumps({{"seconds": min(times)}}))
"""


def run_worker(case: str, lib: str, repeats: int, threads: int) -> dict:
    code = f"import json\nREPEATS = {repeats}\nTHREADS = {threads}\n" + textwrap.dedent(
        WORKER.format(lib=lib, case=case))
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))  # the same thread count for both libraries
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{case}/{lib} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both libraries")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else 20
    results = {}
    rounds = 2 if args.quick else 3
    for case in ("conv2d_3to32", "conv2d_32to64", "lstm"):
        # the libraries alternate, process by process, so a busy machine slows both alike; best round kept
        runs = {"tensorstein": [], "torch": []}
        for _ in range(rounds):
            for lib, found in runs.items():
                found.append(run_worker(case, lib, repeats, args.threads))
        results[case] = {lib: min(r, key=lambda x: x["seconds"]) for lib, r in runs.items()}
    print(f"{'case (fwd+bwd)':16} {'library':12} {'ms':>9} {'torch/this':>10}")
    for case, per_lib in results.items():
        base = per_lib["torch"]["seconds"]
        for lib, r in per_lib.items():
            print(f"{case:16} {lib:12} {1000 * r['seconds']:9.2f} {base / r['seconds']:9.2f}x")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "layers.json"), "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
