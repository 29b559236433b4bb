"""torch's indexing rules against torch: integers next to advanced indices select first, Python ranges and lists
index, 0-d integer tensors act as integers; reading, writing and gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorstein as ts

CASES = [
    "[0, :, [1, 2]]", "[[0, 1], :, 0]", "[:, 0, [1, 2]]", "[[0, 1], 0]", "[0, [1, 2], :]", "[0, [0, 1], [1, 2]]",
    "[[0, 1], :, [1, 2]]", "[..., 0, [1, 2]]", "[None, 0, :, [1, 2]]", "[0, :, [[1], [2]]]", "[-1, :, [3, 0]]",
    "[0, :, L.tensor(1)]", "[:, [True, False, True], 0]", "[0, :, 1]", "[L.tensor(0), :, [1, 2]]", "[[0, 1], 1, :]",
    "[:, 1, [[0, 1]], None]", "[range(2), [0, 2]]", "[range(2), 1, L.tensor([3, 0])]", "[L.tensor(1)]",
    "[1, ..., [0, 0, 2]]", "[0, 1:, [2]]", "[[1, 0], [2, 1], 0]",
]


def _x(L, grad=False):
    return L.arange(24, dtype=L.float32).reshape(2, 3, 4).requires_grad_(grad)


@pytest.mark.parametrize("case", CASES)
def test_getitem_matches_torch_with_gradients(case):
    got = eval("x" + case, {"x": _x(ts, True), "L": ts})  # noqa: S307 (test-only index strings)
    want = eval("x" + case, {"x": _x(torch, True), "L": torch})  # noqa: S307
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
    up = np.random.default_rng(0).standard_normal(tuple(want.shape)).astype(np.float32)
    xs, xt = _x(ts, True), _x(torch, True)
    eval("x" + case, {"x": xs, "L": ts}).backward(ts.tensor(up))  # noqa: S307
    eval("x" + case, {"x": xt, "L": torch}).backward(torch.tensor(up))  # noqa: S307
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_setitem_matches_torch_with_gradients(case):
    shape = tuple(eval("x" + case, {"x": _x(torch), "L": torch}).shape)  # noqa: S307
    vals = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    res = []
    for L in (ts, torch):
        base = L.zeros(2, 3, 4, requires_grad=True)
        v = L.tensor(vals, requires_grad=True)
        x = base * 1.0
        exec("x" + case + " = v", {"x": x, "v": v, "L": L})  # noqa: S102
        (x * L.arange(24.0).reshape(2, 3, 4)).sum().backward()
        res.append((x.detach().numpy(), base.grad.numpy(), v.grad.numpy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_scalar_write_and_cross_entropy_style_pick():
    logits = np.random.default_rng(2).standard_normal((5, 7)).astype(np.float32)
    target = [3, 0, 6, 6, 1]
    got = ts.tensor(logits)[range(5), target]
    want = torch.tensor(logits)[range(5), target]
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    a, b = ts.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    a[1, :, [0, 2]] = 5.0
    b[1, :, [0, 2]] = 5.0
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_index_errors_keep_torch_types():
    for L in (ts, torch):
        with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 2"):
            _x(L)[5, :, [1]]
        with pytest.raises(IndexError, match="out of bounds"):
            _x(L)[range(3), 0]
