"""Train an MLP on the two-spirals problem with tensorstein (no torch): AdamW, cosine LR, tqdm progress.

    python examples/train_spirals.py [--epochs 60] [--target 0.95]

Exits with status 1 if the final accuracy is below ``--target``.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from tqdm import tqdm

import tensorstein as torch
import tensorstein.nn as nn
import tensorstein.nn.functional as F
import tensorstein.optim as optim


def two_spirals(n_per_class: int, noise: float, seed: int):
    """Two interleaved spirals in the plane; labels 0 and 1."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n_per_class)) * 4 * np.pi  # two full turns per arm
    r = t / (4 * np.pi)
    arm = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    x = np.concatenate([arm, -arm]) + rng.normal(0, noise, (2 * n_per_class, 2))
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)]).astype(np.int64)
    perm = rng.permutation(len(y))
    return x[perm].astype(np.float32), y[perm]


class MLP(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 2))

    def forward(self, x):
        return self.net(x)


def accuracy(model, x, y) -> float:
    model.eval()
    with torch.no_grad():
        pred = model(x).argmax(dim=1)
    model.train()
    return (pred == y).float().mean().item()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    x_np, y_np = two_spirals(1000, noise=0.02, seed=args.seed)
    xt_np, yt_np = two_spirals(500, noise=0.02, seed=args.seed + 1)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    x_test, y_test = torch.from_numpy(xt_np), torch.from_numpy(yt_np)

    model = MLP()
    opt = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    steps_per_epoch = (len(y_np) + args.batch - 1) // args.batch
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch)
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    bar = tqdm(range(args.epochs), desc="spirals", unit="epoch")
    for epoch in bar:
        perm = torch.from_numpy(rng.permutation(len(y_np)))
        total = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        if epoch % 25 == 0 or epoch == args.epochs - 1:
            bar.set_postfix(loss=f"{total / steps_per_epoch:.4f}", train_acc=f"{accuracy(model, x, y):.3f}")
    elapsed = time.perf_counter() - t0

    train_acc, test_acc = accuracy(model, x, y), accuracy(model, x_test, y_test)
    final_loss = F.cross_entropy(model(x), y).item()
    print(f"final loss {final_loss:.4f}  train accuracy {train_acc:.2%}  test accuracy {test_acc:.2%}  "
          f"({elapsed:.1f} s, {args.epochs} epochs)")
    if test_acc < args.target:
        print(f"FAILED: test accuracy {test_acc:.2%} is below the target {args.target:.0%}", file=sys.stderr)
        return 1
    print(f"OK: test accuracy >= {args.target:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
