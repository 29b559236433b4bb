"""Distributed: all_reduce bandwidth vs raw mpi4py, and a DDP Transformer-encoder training step.

1. ``dist.all_reduce`` on float32 tensors of 1 KB - 64 MB against ``comm.Allreduce`` of mpi4py on the same
   NumPy buffers, 2 ranks, interleaved rounds (A/B), best round's time per call (the least disturbed by
   other load on a shared machine).
2. One training step (forward, backward, SGD) of a small ``nn.TransformerEncoder``: DDP on 2 ranks x 1 thread
   (half the batch each) against 1 process x 2 threads (the whole batch), median ms/step.
3. How much of the gradient all-reduce is hidden behind backward: the share of gradient bytes whose
   all-reduce had completed when the last gradient was produced, and 1 - (time still waited for the
   all-reduces after the slowest rank's last gradient) / (time the same buckets take on their own).

The machine may be shared: figures are indicative. Standalone:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_distributed.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

_ALLREDUCE = r"""
import json, sys, time
import numpy as np
from mpi4py import MPI
import tensorstein as torch, tensorstein.distributed as dist
dist.init_process_group("mpi")
comm = dist.group.WORLD.comm  # the group's own communicator: only the wrapper differs
rounds = int(sys.argv[1])
out = []
for nbytes in [1 << 10, 16 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]:
    arr = np.ones(nbytes // 4, np.float32)
    t = torch.from_numpy(arr)  # the same buffer
    iters = max(3, min(2000, (256 << 20) // nbytes))
    raw, ours = [], []
    def run(f):
        comm.Barrier()
        t0 = time.perf_counter()
        for _ in range(iters):
            f()
        return (time.perf_counter() - t0) / iters
    run(lambda: comm.Allreduce(MPI.IN_PLACE, arr, MPI.SUM))
    run(lambda: dist.all_reduce(t))
    for k in range(rounds):  # alternate which goes first
        if k % 2:
            ours.append(run(lambda: dist.all_reduce(t)))
        raw.append(run(lambda: comm.Allreduce(MPI.IN_PLACE, arr, MPI.SUM)))
        if not k % 2:
            ours.append(run(lambda: dist.all_reduce(t)))
    out.append((nbytes, float(np.min(raw)), float(np.min(ours))))
if comm.Get_rank() == 0:
    print("RESULT " + json.dumps(out))
"""

_STEP = r"""
import json, os, sys, time
import numpy as np
import tensorstein as torch
from tensorstein import nn
steps, cap = int(sys.argv[1]), float(sys.argv[2])
world = int(os.environ.get("WORLD_SIZE", "1"))
B, L, D = 16, 32, 128
torch.manual_seed(0)
layer = nn.TransformerEncoderLayer(D, 4, dim_feedforward=4 * D, dropout=0.0, batch_first=True)
model = nn.TransformerEncoder(layer, 3)
head = nn.Linear(D, 1)
net = nn.Sequential(model, head)
rank = 0
if world > 1:
    import tensorstein.distributed as dist
    from tensorstein.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    net = DDP(net, bucket_cap_mb=cap)
opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
rng = np.random.default_rng(0)
x = torch.from_numpy(rng.standard_normal((B, L, D)).astype(np.float32))
y = torch.from_numpy(rng.standard_normal((B, L, 1)).astype(np.float32))
per = B // world
xs, ys = x[rank * per:(rank + 1) * per], y[rank * per:(rank + 1) * per]
def step():
    loss = torch.nn.functional.mse_loss(net(xs), ys)
    opt.zero_grad()
    loss.backward()
    opt.step()
for _ in range(3):
    step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
res = {"ms": 1000 * float(np.median(times))}
if world > 1:
    from mpi4py import MPI
    comm = net.process_group.comm
    exposed, hidden = [], []
    for _ in range(steps):
        # exposed communication: from the moment the slowest rank's last gradient is ready (before that,
        # waiting is rank skew, not communication) until the averaged gradients are in place
        step()
        last = comm.allgather(net.reducer.last_grad_time)  # one machine: perf_counter is one clock
        exposed.append(max(0.0, net.reducer.done_time - max(last)))
        hidden.append(net.reducer.hidden_bytes / sum(b.flat.nbytes for b in net.reducer.buckets))
    res["exposed_ms"] = 1000 * float(np.median(exposed))
    res["hidden_bytes"] = float(np.mean(hidden))
    res["buckets"] = [int(b.flat.nbytes) for b in net.reducer.buckets]
    alone = []
    for _ in range(steps):
        comm.Barrier()
        t0 = time.perf_counter()
        for b in net.reducer.buckets:
            comm.Allreduce(MPI.IN_PLACE, b.flat, MPI.SUM)
        alone.append(time.perf_counter() - t0)
    res["allreduce_ms"] = 1000 * float(np.median(alone))
    res["params"] = int(sum(p.numel() for p in net.parameters()))
if rank == 0:
    print("RESULT " + json.dumps(res))
"""


def _env(threads: int | None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env[var] = str(threads)
    return env


def _result(cmd: list, env: dict) -> object:
    proc = subprocess.run(cmd, env=env, check=False, capture_output=True, text=True, timeout=900)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def _script(tmp: str, name: str, code: str) -> str:
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(code)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds and steps (noisier)")
    args = p.parse_args(argv)
    rounds, steps = (3, 5) if args.quick else (7, 15)
    import tempfile

    run = [sys.executable, "-m", "tensorstein", "run", "--nproc-per-node", "2", "--threads-per-rank", "1"]
    with tempfile.TemporaryDirectory() as tmp:
        ar = _result(run + [_script(tmp, "allreduce.py", _ALLREDUCE), str(rounds)], _env(None))
        step_file = _script(tmp, "step.py", _STEP)
        one = {t: _result([sys.executable, step_file, str(steps), "25"], _env(t)) for t in (1, 2)}
        ddp = {cap: _result(run + [step_file, str(steps), str(cap)], _env(None)) for cap in (25.0, 0.5)}

    print("### all_reduce, 2 ranks, float32, time per call (best of interleaved rounds)\n")
    print("| size | mpi4py Allreduce | dist.all_reduce | bandwidth (ours) | ours / raw |")
    print("|---:|---:|---:|---:|---:|")
    for nbytes, raw, ours in ar:
        size = f"{nbytes >> 20} MB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KB"
        print(f"| {size} | {raw * 1e6:.1f} us | {ours * 1e6:.1f} us | {nbytes / ours / 1e9:.2f} GB/s | "
              f"{ours / raw:.3f} |")
    params = ddp[25.0]["params"]
    print(f"\n### DDP training step: TransformerEncoder (3 layers, d_model 128, 4 heads, batch 16 x 32 tokens, "
          f"{params / 1e6:.2f} M parameters), SGD momentum\n")
    print("| setup | ms/step | all-reduce alone | still waited after backward | time hidden | bytes reduced "
          "during backward |")
    print("|---|---:|---:|---:|---:|---:|")
    for t, r in one.items():
        print(f"| 1 process x {t} thread{'s' if t > 1 else ''}, batch 16 | {r['ms']:.1f} | - | - | - | - |")
    for cap, r in ddp.items():
        hidden = max(0.0, 1 - r["exposed_ms"] / r["allreduce_ms"]) if r["allreduce_ms"] > 0 else 0.0
        print(f"| DDP 2 ranks x 1 thread, batch 8 each, bucket_cap_mb={cap:g} ({len(r['buckets'])} buckets) | "
              f"{r['ms']:.1f} | {r['allreduce_ms']:.2f} ms | {r['exposed_ms']:.2f} ms | {100 * hidden:.0f}% | "
              f"{100 * r['hidden_bytes']:.0f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
