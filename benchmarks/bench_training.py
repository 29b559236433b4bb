"""One training step (forward, backward, AdamW) of a 4-layer MLP, 512 wide, batch 256: tensorstein vs torch.

Each library runs in its own subprocess (torch with its default threads); the median of several timed
runs is reported in ms/step, with the ratio torch_ms / tensorstein_ms (> 1 means tensorstein is faster).
Results are written to benchmarks/results/bench_training.json.

    python benchmarks/bench_training.py [--steps 30] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys

WIDTH, DEPTH, BATCH, CLASSES = 512, 4, 256, 10

_CHILD = r"""
import sys, time, json, statistics
import numpy as np
lib, steps, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
W, D, B, C = %d, %d, %d, %d
if lib == "torch":
    import torch as T
    from torch import nn, optim
else:
    import tensorstein as T
    from tensorstein import nn, optim
T.manual_seed(0)
layers = []
d_in = W
for i in range(D - 1):
    layers += [nn.Linear(d_in, W), nn.ReLU()]
layers.append(nn.Linear(W, C))
model = nn.Sequential(*layers)
opt = optim.AdamW(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
rng = np.random.default_rng(0)
x = T.from_numpy(rng.standard_normal((B, W)).astype(np.float32))
y = T.from_numpy(rng.integers(0, C, B).astype(np.int64))

def step():
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss

for _ in range(5):
    step()
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    times.append((time.perf_counter() - t0) / steps * 1e3)
threads = T.get_num_threads()
print(json.dumps({"lib": lib, "ms_per_step": statistics.median(times), "runs_ms": times, "threads": threads}))
""" % (WIDTH, DEPTH, BATCH, CLASSES)


def run(lib: str, steps: int, repeats: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, lib, str(steps), str(repeats)], check=True,
                         capture_output=True, text=True, env=dict(os.environ))
    return json.loads(out.stdout.strip().splitlines()[-1])


def _merge(results: list) -> dict:
    import statistics
    all_runs = [t for r in results for t in r["runs_ms"]]
    return {"lib": results[0]["lib"], "ms_per_step": statistics.median(all_runs), "runs_ms": all_runs,
            "threads": results[0]["threads"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="alternating subprocess rounds per library (the machine "
                    "may be shared: alternating spreads load changes over both)")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.rounds = 2, 1
    runs = {"tensorstein": [], "torch": []}
    for _ in range(args.rounds):
        for lib in runs:
            runs[lib].append(run(lib, args.steps, args.repeats))
    res_ts, res_torch = (_merge(runs[lib]) for lib in ("tensorstein", "torch"))
    ratio = res_torch["ms_per_step"] / res_ts["ms_per_step"]
    print(f"MLP {DEPTH}x{WIDTH}, batch {BATCH}, AdamW step (forward + backward + update):")
    print(f"  tensorstein: {res_ts['ms_per_step']:8.2f} ms/step  ({res_ts['threads']} BLAS threads)")
    print(f"  torch:       {res_torch['ms_per_step']:8.2f} ms/step  ({res_torch['threads']} threads)")
    best = min(res_torch["runs_ms"]) / min(res_ts["runs_ms"])
    print(f"  speed ratio (torch / tensorstein): {ratio:.2f}x median, {best:.2f}x best-of "
          f"(best {min(res_ts['runs_ms']):.2f} vs {min(res_torch['runs_ms']):.2f} ms)")
    out_dir = pathlib.Path(__file__).resolve().parent / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "training_step_mlp", "width": WIDTH, "depth": DEPTH, "batch": BATCH,
              "optimizer": "AdamW", "steps": args.steps, "repeats": args.repeats, "rounds": args.rounds, "tensorstein": res_ts,
              "torch": res_torch, "ratio_torch_over_tensorstein": ratio,
              "ratio_best_of": best, "machine": platform.machine(),
              "cpus": os.cpu_count(), "python": platform.python_version()}
    (out_dir / "bench_training.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
