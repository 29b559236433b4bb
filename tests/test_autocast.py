"""CPU autocast: the matmul family computes in bfloat16 (float16 on request) like torch's lower-precision list,
other ops stay float32, and gradients flow back to the float32 leaves in their own dtype."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import tensorstein as ts

RNG = np.random.default_rng(7)


def _pair(*shape, grad=False):
    a = RNG.standard_normal(shape).astype(np.float32)
    return ts.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _ops():
    return {
        "matmul": (lambda L, a, b: L.matmul(a, b), [(3, 4), (4, 5)]),
        "operator@": (lambda L, a, b: a @ b, [(2, 3, 4), (4, 5)]),
        "matmul.1d": (lambda L, a, b: a @ b, [(4,), (4,)]),
        "mm": (lambda L, a, b: L.mm(a, b), [(3, 4), (4, 5)]),
        "bmm": (lambda L, a, b: L.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
        "addmm": (lambda L, c, a, b: L.addmm(c, a, b, beta=0.5), [(3, 5), (3, 4), (4, 5)]),
        "baddbmm": (lambda L, c, a, b: L.baddbmm(c, a, b, alpha=2.0), [(2, 3, 5), (2, 3, 4), (2, 4, 5)]),
        "addbmm": (lambda L, c, a, b: L.addbmm(c, a, b), [(3, 5), (2, 3, 4), (2, 4, 5)]),
        "linalg.vecdot": (lambda L, a, b: L.linalg.vecdot(a, b), [(3, 4), (3, 4)]),
        "tensordot": (lambda L, a, b: L.tensordot(a, b, 1), [(3, 4), (4, 5)]),
        # not on torch's CPU list: they stay float32
        "mv": (lambda L, a, b: L.mv(a, b), [(3, 4), (4,)]),
        "addmv": (lambda L, c, a, b: L.addmv(c, a, b), [(3,), (3, 4), (4,)]),
        "dot": (lambda L, a, b: L.dot(a, b), [(4,), (4,)]),
        "outer": (lambda L, a, b: L.outer(a, b), [(3,), (4,)]),
        "mul": (lambda L, a, b: a * b, [(3, 4), (3, 4)]),
    }


@pytest.mark.parametrize("name", list(_ops()))
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_autocast_ops_match_torch(name, dtype):
    fn, shapes = _ops()[name]
    pairs = [_pair(*s, grad=True) for s in shapes]
    ours = [p[0] for p in pairs]
    theirs = [p[1] for p in pairs]
    with ts.autocast("cpu", dtype=getattr(ts, dtype)):
        got = fn(ts, *ours)
    with torch.autocast("cpu", dtype=getattr(torch, dtype)):
        want = fn(torch, *theirs)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    tol = 2e-2 if want.dtype is torch.bfloat16 else 3e-3
    np.testing.assert_allclose(got.float().detach().numpy(), want.float().detach().numpy(), rtol=tol, atol=tol)
    up = RNG.standard_normal(tuple(want.shape)).astype(np.float32)
    got.backward(ts.tensor(up).to(got.dtype))
    want.backward(torch.tensor(up).to(want.dtype))
    for a, b in zip(ours, theirs):
        assert a.grad.dtype is ts.float32 and b.grad.dtype is torch.float32
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=3e-2, atol=3e-2)


def test_linear_layer_trains_float32_parameters_under_autocast():
    lin = ts.nn.Linear(4, 3)
    x = ts.randn(5, 4)
    with ts.autocast("cpu"):
        y = x @ lin.weight.t() + lin.bias.to(ts.bfloat16)
        assert y.dtype is ts.bfloat16
        loss = y.float().pow(2).mean()
    loss.backward()
    assert lin.weight.grad.dtype is ts.float32 and lin.weight.dtype is ts.float32
    assert float(lin.weight.grad.abs().sum()) > 0


def test_autocast_leaves_float64_and_integers_alone_and_restores_state():
    a64 = ts.randn(3, 3, dtype=ts.float64)
    ai = ts.ones(3, 3, dtype=ts.int64)
    with ts.autocast("cpu"):
        assert (a64 @ a64).dtype is ts.float64
        assert (ai @ ai).dtype is ts.int64
        with ts.autocast("cpu", enabled=False):
            assert (ts.ones(2, 2) @ ts.ones(2, 2)).dtype is ts.float32
        assert (ts.ones(2, 2) @ ts.ones(2, 2)).dtype is ts.bfloat16
    assert (ts.ones(2, 2) @ ts.ones(2, 2)).dtype is ts.float32


def test_autocast_is_per_thread():
    seen = []
    with ts.autocast("cpu"):
        t = threading.Thread(target=lambda: seen.append((ts.ones(2, 2) @ ts.ones(2, 2)).dtype))
        t.start()
        t.join()
    assert seen == [ts.float32]


def _fops():
    return {
        "linear": (lambda L, x, w, b: L.nn.functional.linear(x, w, b), [(2, 3, 4), (5, 4), (5,)]),
        "conv1d": (lambda L, x, w, b: L.nn.functional.conv1d(x, w, b, padding=1), [(2, 3, 7), (4, 3, 3), (4,)]),
        "conv2d": (lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, stride=2), [(1, 2, 6, 6), (3, 2, 3, 3), (3,)]),
        "sdpa": (lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(q, k, v), [(2, 2, 5, 8)] * 3),
        "sdpa.causal": (lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
                        [(1, 2, 6, 4)] * 3),
        "sdpa.float_mask": (lambda L, q, k, v, m: L.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
                            [(1, 2, 4, 8)] * 3 + [(4, 4)]),
    }


@pytest.mark.parametrize("name", list(_fops()))
def test_autocast_functionals_match_torch(name):
    fn, shapes = _fops()[name]
    pairs = [_pair(*s, grad=True) for s in shapes]
    ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
    with ts.autocast("cpu"):
        got = fn(ts, *ours)
    with torch.autocast("cpu"):
        want = fn(torch, *theirs)
    assert got.dtype is ts.bfloat16 and want.dtype is torch.bfloat16
    np.testing.assert_allclose(got.float().detach().numpy(), want.float().detach().numpy(), rtol=3e-2, atol=3e-2)
    up = RNG.standard_normal(tuple(want.shape)).astype(np.float32)
    got.float().backward(ts.tensor(up))
    want.float().backward(torch.tensor(up))
    for a, b in zip(ours, theirs):
        assert a.grad.dtype is ts.float32 and b.grad.dtype is torch.float32
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=5e-2, atol=5e-2)


def test_autocast_training_step_of_a_module_matches_torch():
    rng = np.random.default_rng(3)
    w1, w2 = rng.standard_normal((16, 8)).astype(np.float32), rng.standard_normal((4, 16)).astype(np.float32)
    x, y = rng.standard_normal((6, 8)).astype(np.float32), rng.integers(0, 4, 6)
    losses, grads = [], []
    for L in (ts, torch):
        net = L.nn.Sequential(L.nn.Linear(8, 16), L.nn.ReLU(), L.nn.Linear(16, 4))
        with L.no_grad():
            net[0].weight.copy_(L.tensor(w1))
            net[2].weight.copy_(L.tensor(w2))
            net[0].bias.zero_()
            net[2].bias.zero_()
        with L.autocast("cpu"):
            out = net(L.tensor(x))
            loss = L.nn.functional.cross_entropy(out.float(), L.tensor(y))
        loss.backward()
        assert out.dtype == L.bfloat16 and net[0].weight.grad.dtype == L.float32
        losses.append(loss.item())
        grads.append(net[0].weight.grad.numpy())
    assert abs(losses[0] - losses[1]) < 2e-2 * abs(losses[1])
    np.testing.assert_allclose(grads[0], grads[1], rtol=5e-2, atol=5e-2)
