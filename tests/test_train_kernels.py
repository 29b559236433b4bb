"""Kernels behind the small-model training steps (embedding backward, batched matmul split over threads, small
attention split over threads, AdamW over all parameters at once) against their composites and torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tensorstein as ts
import tensorstein.nn.functional as F
from tensorstein.nn._functional._sparse_kernels import scatter_add_rows

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_scatter_add_rows_matches_add_at(dt):
    idx = RNG.integers(0, 7, 500)
    gd = RNG.standard_normal((500, 33)).astype(dt)
    want = np.zeros((7, 33), dt)
    np.add.at(want, idx, gd)
    got = np.zeros((7, 33), dt)
    scatter_add_rows(got, idx.astype(np.int32), gd)
    np.testing.assert_array_equal(got, want)  # same order of additions: bit for bit


@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_backward_many_repeats_vs_torch(padding_idx):
    idx = RNG.integers(0, 11, (8, 64))
    w = RNG.standard_normal((11, 16)).astype(np.float32)
    g = RNG.standard_normal((8, 64, 16)).astype(np.float32)
    a, b = ts.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    F.embedding(ts.tensor(idx), a, padding_idx=padding_idx).backward(ts.tensor(g))
    TF.embedding(torch.tensor(idx), b, padding_idx=padding_idx).backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-5)
    want = np.zeros_like(w)
    np.add.at(want, idx.reshape(-1), g.reshape(-1, 16))
    if padding_idx is not None:
        want[padding_idx] = 0
    np.testing.assert_array_equal(a.grad.numpy(), want)
