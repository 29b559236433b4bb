"""One training step (forward, backward, AdamW) of a 4-layer MLP, 512 wide,
batch 256, 10 classes, cross-entropy: tensorstein vs torch (default threads).

    python benchmarks/bench_training.py [--quick]
"""

from __future__ import annotations

import sys

import harness

TITLE = "Training step of a 4-layer MLP (512 wide, batch 256) with AdamW"
LIBRARIES = ("tensorstein", "torch")
WIDTH, DEPTH, BATCH, CLASSES = 512, 4, 256, 10


def cases(lib, quick):
    import numpy as np

    T = __import__(lib)
    nn, optim = T.nn, T.optim
    T.manual_seed(0)
    layers = []
    for _ in range(DEPTH - 1):
        layers += [nn.Linear(WIDTH, WIDTH), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(WIDTH, CLASSES))
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = T.from_numpy(rng.standard_normal((BATCH, WIDTH)).astype(np.float32))
    y = T.from_numpy(rng.integers(0, CLASSES, BATCH).astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    return [harness.Case(f"MLP {DEPTH}x{WIDTH} batch {BATCH} AdamW step", step, number=20,
                         warmup=5, work=BATCH, unit="samples/s")]


if __name__ == "__main__":
    sys.exit(harness.main(["training"] + sys.argv[1:]))
