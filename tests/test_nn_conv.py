"""Conv1d/Conv2d and F.conv1d/F.conv2d vs torch: values, gradients (random upstream gradient), dtypes,
padding modes and strings, groups, dilation, state_dict layout, init statistics, repr and error texts."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import tensorstein as ts
from tensorstein.nn._functional.conv import _conv_composite

RNG = np.random.default_rng(7)


def _pair(x):
    return ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def _run_conv(fname, x, w, b, dtype=np.float32, **kw):
    sx, tx = _pair(x.astype(dtype))
    sw, tw = _pair(w.astype(dtype))
    sb, tb = _pair(b.astype(dtype)) if b is not None else (None, None)
    so = getattr(ts.nn.functional, fname)(sx, sw, sb, **kw)
    to = getattr(torch.nn.functional, fname)(tx, tw, tb, **kw)
    g = RNG.standard_normal(tuple(to.shape)).astype(dtype)
    so.backward(ts.tensor(g))
    to.backward(torch.tensor(g))
    return (so, to), [(sx, tx), (sw, tw)] + ([(sb, tb)] if b is not None else [])


CASES_2D = [
    # (N, C, H, W), (O, kH, kW), kwargs
    ((2, 4, 9, 8), (6, 3, 3), dict(padding=1)),
    ((2, 4, 9, 8), (6, 3, 2), dict(stride=2, padding=(1, 0), dilation=(2, 1), groups=2)),
    ((1, 3, 7, 7), (3, 3, 3), dict(padding="same", dilation=2, groups=3)),
    ((2, 2, 5, 6), (4, 2, 2), dict(stride=(2, 3), padding="valid")),
    ((2, 2, 6, 6), (4, 2, 2), dict(padding="same")),  # even kernel: asymmetric 'same' padding
    ((3, 5, 6), (4, 3, 3), dict(padding=2, stride=2)),  # unbatched
]


@pytest.mark.parametrize("xshape,wshape,kw", CASES_2D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_values_and_grads(xshape, wshape, kw, bias):
    c = xshape[-3]
    groups = kw.get("groups", 1)
    x = RNG.standard_normal(xshape)
    w = RNG.standard_normal((wshape[0], c // groups) + wshape[1:])
    b = RNG.standard_normal(wshape[0]) if bias else None
    (so, to), pairs = _run_conv("conv2d", x, w, b, **kw)
    assert tuple(so.shape) == tuple(to.shape)
    assert so.dtype == ts.float32
    np.testing.assert_allclose(so.detach().numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-4)
    for s, t in pairs:
        np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert type(so.grad_fn).__name__ == "ConvolutionBackward0"


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=3),
                                dict(groups=2, dilation=2, padding=2)])
def test_conv1d_values_and_grads(kw):
    x = RNG.standard_normal((3, 4, 11))
    w = RNG.standard_normal((6, 4 // kw.get("groups", 1), 3))
    (so, to), pairs = _run_conv("conv1d", x, w, RNG.standard_normal(6), **kw)
    np.testing.assert_allclose(so.detach().numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-4)
    for s, t in pairs:
        np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_conv2d_float64():
    x, w = RNG.standard_normal((2, 3, 6, 5)), RNG.standard_normal((4, 3, 3, 3))
    (so, to), pairs = _run_conv("conv2d", x, w, RNG.standard_normal(4), dtype=np.float64, padding=1, stride=2)
    assert so.dtype == ts.float64
    np.testing.assert_allclose(so.detach().numpy(), to.detach().numpy(), rtol=1e-10)
    for s, t in pairs:
        assert s.grad.dtype == ts.float64
        np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), rtol=1e-10)


def test_fused_conv_matches_composite_and_double_backward():
    x = ts.tensor(RNG.standard_normal((2, 4, 7, 6)).astype(np.float64), requires_grad=True)
    w = ts.tensor(RNG.standard_normal((6, 2, 3, 2)).astype(np.float64), requires_grad=True)
    b = ts.tensor(RNG.standard_normal(6), requires_grad=True)
    fused = ts.nn.functional.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    comp = _conv_composite(x, w, b, (2, 1), [(1, 1), (0, 0)], (1, 2), 2)
    np.testing.assert_allclose(fused.detach().numpy(), comp.detach().numpy(), rtol=1e-12)
    # second order: grad of (sum of squared input-gradient) against torch
    tx, tw = torch.tensor(x.detach().numpy(), requires_grad=True), torch.tensor(w.detach().numpy(),
                                                                                requires_grad=True)
    for lib, xx, ww in ((ts, x, w), (torch, tx, tw)):
        out = lib.nn.functional.conv2d(xx, ww, None, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
        (gx,) = lib.autograd.grad((out * out).sum(), (xx,), create_graph=True)
        (gx * gx).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-9)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_module_with_torch_weights(mode):
    tm = torch.nn.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=(1, 1), padding_mode=mode)
    sm = ts.nn.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=(1, 1), padding_mode=mode)
    assert repr(sm) == repr(tm)
    sd = tm.state_dict()
    assert list(sm.state_dict()) == list(sd)
    assert all(tuple(sm.state_dict()[k].shape) == tuple(v.shape) for k, v in sd.items())
    sm.load_state_dict({k: ts.tensor(v.numpy()) for k, v in sd.items()})
    x = RNG.standard_normal((2, 3, 6, 7)).astype(np.float32)
    sx, tx = _pair(x)
    so, to = sm(sx), tm(tx)
    g = RNG.standard_normal(tuple(to.shape)).astype(np.float32)
    so.backward(ts.tensor(g))
    to.backward(torch.tensor(g))
    np.testing.assert_allclose(so.detach().numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sm.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("args,kw", [((3, 8, 3), dict(padding=1)), ((4, 8, (3, 5)), dict(stride=2, groups=2,
                                                                                            bias=False)),
                                     ((2, 2, 3), dict(padding="same", dilation=2)),
                                     ((2, 2, 3), dict(padding_mode="reflect", padding=1))])
def test_conv_repr_and_init(args, kw):
    sm, tm = ts.nn.Conv2d(*args, **kw), torch.nn.Conv2d(*args, **kw)
    assert repr(sm) == repr(tm)
    s1, t1 = ts.nn.Conv1d(*args[:2], 3, **kw), torch.nn.Conv1d(*args[:2], 3, **kw)
    assert repr(s1) == repr(t1)
    # torch's init bounds: kaiming_uniform(a=sqrt(5)) -> 1/sqrt(fan_in); bias the same bound
    big = ts.nn.Conv2d(16, 64, 3)
    bound = 1 / np.sqrt(16 * 9)
    w = big.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(big.bias.detach().numpy()).max() <= bound


@pytest.mark.parametrize("call", [
    lambda F, x, w: F.conv2d(x, w, stride=0),
    lambda F, x, w: F.conv2d(x, w, padding=-1),
    lambda F, x, w: F.conv2d(x, w, padding="same", stride=2),
    lambda F, x, w: F.conv2d(x, w, padding="full"),
    lambda F, x, w: F.conv2d(x, w, groups=2),
    lambda F, x, w: F.conv2d(x[:, :2], w),
    lambda F, x, w: F.conv2d(x[0, 0], w),
    lambda F, x, w: F.conv2d(x[:, :, :2, :2], w),
    lambda F, x, w: F.conv2d(x, w, w[0, 0, 0]),
    lambda F, x, w: F.conv2d(x.double(), w),
    lambda F, x, w: F.conv2d(x, w.double()),
    lambda F, x, w: F.conv2d(x, w, w[:, 0, 0, 0].double()),
])
def test_conv_errors_match_torch(call):
    x, w = RNG.standard_normal((2, 3, 5, 5)).astype(np.float32), RNG.standard_normal((4, 3, 3, 3)).astype(
        np.float32)
    with pytest.raises(Exception) as te:
        call(torch.nn.functional, torch.tensor(x), torch.tensor(w))
    with pytest.raises(type(te.value)) as se:
        call(ts.nn.functional, ts.tensor(x), ts.tensor(w))
    assert str(se.value) == str(te.value)


@pytest.mark.parametrize("kw", [dict(groups=0), dict(groups=2), dict(padding="full"),
                                dict(padding="same", stride=2), dict(padding_mode="mirror")])
def test_conv_module_errors_match_torch(kw):
    with pytest.raises(ValueError) as te:
        torch.nn.Conv2d(3, 4, 3, **kw)
    with pytest.raises(ValueError) as se:
        ts.nn.Conv2d(3, 4, 3, **kw)

    def norm(msg):  # a set's printed order depends on the hash seed: compare its sorted items
        return re.sub(r"\{[^}]*\}", lambda m: str(sorted(m.group(0)[1:-1].split(", "))), msg)
    assert norm(str(se.value)) == norm(str(te.value))


def test_small_cnn_training_step_matches_torch():
    def build(lib):
        n = lib.nn
        return n.Sequential(n.Conv2d(1, 4, 3, padding=1), n.BatchNorm2d(4), n.ReLU(), n.MaxPool2d(2),
                            n.Conv2d(4, 8, 3), n.ReLU(), n.AdaptiveAvgPool2d(1), n.Flatten(), n.Linear(8, 3))
    tm, sm = build(torch), build(ts)
    sm.load_state_dict({k: ts.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    topt = torch.optim.SGD(tm.parameters(), lr=0.1)
    sopt = ts.optim.SGD(sm.parameters(), lr=0.1)
    x = RNG.standard_normal((4, 1, 10, 10)).astype(np.float32)
    y = np.array([0, 2, 1, 2])
    for _ in range(3):
        tl = torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y))
        sl = ts.nn.functional.cross_entropy(sm(ts.tensor(x)), ts.tensor(y))
        np.testing.assert_allclose(sl.item(), tl.item(), rtol=1e-5)
        for opt, loss in ((topt, tl), (sopt, sl)):
            opt.zero_grad()
            loss.backward()
            opt.step()
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(sm.state_dict()[k].numpy(), v.numpy(), rtol=1e-4, atol=1e-5)
