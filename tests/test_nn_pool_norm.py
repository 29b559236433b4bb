"""Pooling (max/avg/adaptive, 1-D and 2-D), BatchNorm1d/2d, GroupNorm, F.pad, F.one_hot and
F.interpolate vs torch: values, indices, gradients with a random upstream gradient, running statistics,
state_dict keys, repr and error texts."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorstein as ts

RNG = np.random.default_rng(3)
TF, SF = torch.nn.functional, ts.nn.functional


def _compare(name, shape, dtype=np.float32, rtol=1e-5, atol=1e-6, **kw):
    """Run F.<name> in both libraries; compare outputs (and indices) and input gradients."""
    x = RNG.standard_normal(shape).astype(dtype)
    tx, sx = torch.tensor(x, requires_grad=True), ts.tensor(x, requires_grad=True)
    to, so = getattr(TF, name)(tx, **kw), getattr(SF, name)(sx, **kw)
    if isinstance(to, tuple):
        assert so[1].dtype == ts.int64
        np.testing.assert_array_equal(so[1].numpy(), to[1].numpy())
        to, so = to[0], so[0]
    assert tuple(so.shape) == tuple(to.shape)
    assert so.dtype.name == str(to.dtype).split(".")[1]
    g = RNG.standard_normal(tuple(to.shape)).astype(dtype)
    to.backward(torch.tensor(g))
    so.backward(ts.tensor(g))
    np.testing.assert_allclose(so.detach().numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(sx.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 9, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True)),
    ((3, 9, 8), dict(kernel_size=(3, 2), stride=(1, 2), dilation=2, return_indices=True)),
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 7, 7), dict(kernel_size=3, stride=2, ceil_mode=True)),
])
def test_max_pool2d(shape, kw):
    _compare("max_pool2d", shape, **kw)


def test_max_pool2d_numba_kernels_match_numpy_path(monkeypatch):
    from tensorstein.nn._functional import pooling as FP
    rng = np.random.default_rng(8)  # its own stream: the other tests' draws stay as they were
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    g = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    runs = []
    for flag in (True, False):
        monkeypatch.setattr(FP, "USE_NUMBA", flag)
        sx = ts.tensor(x, requires_grad=True)
        v, i = SF.max_pool2d(sx, 3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True, return_indices=True)
        v.backward(ts.tensor(g))
        runs.append((v.detach().numpy(), i.numpy(), sx.grad.numpy()))
    for a, b in zip(runs[0][:2], runs[1][:2]):  # values and indices exactly
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(runs[0][2], runs[1][2], rtol=1e-6)  # overlapping windows: float32 sums


def test_max_pool2d_nan_like_torch():
    x = np.random.default_rng(9).standard_normal((2, 3, 6, 6)).astype(np.float32)
    x[0, 0, 0, 1] = x[0, 1, 2, 2] = x[0, 1, 3, 3] = x[1, 2, 5, 5] = np.nan  # a window with two NaNs
    tv, ti = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    sv, si = SF.max_pool2d(ts.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(sv.numpy(), tv.numpy())  # NaN positions equal too
    np.testing.assert_array_equal(si.numpy(), ti.numpy())


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 10), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True)),
    ((3, 10), dict(kernel_size=2)),
    ((2, 3, 11), dict(kernel_size=3, dilation=2, return_indices=True)),
])
def test_max_pool1d(shape, kw):
    _compare("max_pool1d", shape, **kw)


def test_max_pool_float64_and_ties():
    _compare("max_pool2d", (2, 2, 6, 6), dtype=np.float64, kernel_size=3, stride=1, padding=1)
    x = np.zeros((1, 1, 4, 4), np.float32)  # all ties: torch picks the first maximum of each window
    _, ti = TF.max_pool2d(torch.tensor(x), 2, 1, return_indices=True)
    _, si = SF.max_pool2d(ts.tensor(x), 2, 1, return_indices=True)
    np.testing.assert_array_equal(si.numpy(), ti.numpy())


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 9, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 3, 9, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((3, 9, 8), dict(kernel_size=(3, 2), padding=1, divisor_override=5)),
    ((2, 3, 8, 8), dict(kernel_size=2)),
])
def test_avg_pool2d(shape, kw):
    _compare("avg_pool2d", shape, **kw)


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 10), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False)),
    ((3, 10), dict(kernel_size=3, stride=1, padding=1)),
])
def test_avg_pool1d(shape, kw):
    _compare("avg_pool1d", shape, **kw)


@pytest.mark.parametrize("name,shape,out", [
    ("adaptive_avg_pool2d", (2, 3, 9, 8), (4, 3)), ("adaptive_avg_pool2d", (3, 9, 8), (None, 5)),
    ("adaptive_avg_pool2d", (2, 3, 5, 5), 1), ("adaptive_avg_pool2d", (2, 3, 5, 7), 7),
    ("adaptive_avg_pool1d", (2, 3, 10), 4), ("adaptive_avg_pool1d", (3, 10), 3),
])
def test_adaptive_avg_pool(name, shape, out):
    _compare(name, shape, output_size=out)


@pytest.mark.parametrize("call", [
    lambda F, x: F.max_pool2d(x, 3, padding=2),
    lambda F, x: F.avg_pool2d(x, 3, padding=2),
    lambda F, x: F.max_pool2d(x, 3, stride=0),
    lambda F, x: F.max_pool2d(x, 7),
    lambda F, x: F.avg_pool2d(x, 7),
    lambda F, x: F.max_pool2d(x[0, 0, 0], 2),
    lambda F, x: F.max_pool1d(x[0, 0, 0], 2),
    lambda F, x: F.max_pool1d(x[0], 6),
    lambda F, x: F.adaptive_avg_pool2d(x[0, 0, 0], 2),
    lambda F, x: F.adaptive_avg_pool1d(x[0], (2, 2)),
])
def test_pool_errors_match_torch(call):
    x = RNG.standard_normal((1, 3, 5, 5)).astype(np.float32)
    with pytest.raises(Exception) as te:
        call(TF, torch.tensor(x))
    with pytest.raises(type(te.value)) as se:
        call(SF, ts.tensor(x))
    assert str(se.value) == str(te.value)


@pytest.mark.parametrize("cls,args", [("MaxPool2d", (2,)), ("MaxPool1d", (3, 2)), ("AvgPool2d", (2,)),
                                      ("AvgPool1d", (3,)), ("AdaptiveAvgPool2d", ((None, 3),)),
                                      ("AdaptiveAvgPool1d", (4,)), ("MaxPool2d", (3, 1, 1, 1, True, True))])
def test_pool_modules_repr_and_forward(cls, args):
    tm, sm = getattr(torch.nn, cls)(*args), getattr(ts.nn, cls)(*args)
    assert repr(sm) == repr(tm)
    shape = (2, 3, 8) if cls.endswith("1d") else (2, 3, 8, 9)
    x = RNG.standard_normal(shape).astype(np.float32)
    to, so = tm(torch.tensor(x)), sm(ts.tensor(x))
    if isinstance(to, tuple):
        np.testing.assert_array_equal(so[1].numpy(), to[1].numpy())
        to, so = to[0], so[0]
    np.testing.assert_allclose(so.numpy(), to.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- normalisation
def _load_random(tm, sm):
    sd = {k: v.numpy() + (RNG.standard_normal(v.shape).astype(np.float32) if v.is_floating_point() else 0)
          for k, v in tm.state_dict().items()}
    if "running_var" in sd:
        sd["running_var"] = np.abs(sd["running_var"]) + 0.5
    tm.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    sm.load_state_dict({k: ts.tensor(v) for k, v in sd.items()})


@pytest.mark.parametrize("cls,shape,kw", [
    ("BatchNorm2d", (4, 3, 5, 6), {}), ("BatchNorm1d", (8, 3), {"momentum": None}),
    ("BatchNorm1d", (4, 3, 7), {"affine": False}), ("BatchNorm1d", (4, 3, 7), {"track_running_stats": False}),
    ("BatchNorm2d", (2, 3, 4, 4), {"momentum": 0.3, "eps": 1e-3, "bias": False}),
])
def test_batchnorm_train_eval_against_torch(cls, shape, kw):
    tm, sm = getattr(torch.nn, cls)(3, **kw), getattr(ts.nn, cls)(3, **kw)
    assert repr(sm) == repr(tm)
    assert list(sm.state_dict()) == list(tm.state_dict())
    _load_random(tm, sm)
    for _ in range(3):
        x = RNG.standard_normal(shape).astype(np.float32) * 2 + 1
        tx, sx = torch.tensor(x, requires_grad=True), ts.tensor(x, requires_grad=True)
        to, so = tm(tx), sm(sx)
        g = RNG.standard_normal(shape).astype(np.float32)
        to.backward(torch.tensor(g))
        so.backward(ts.tensor(g))
        np.testing.assert_allclose(so.detach().numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(sx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
        for (k, a), (k2, b) in zip(tm.named_parameters(), sm.named_parameters()):
            assert k == k2
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-4, atol=1e-5)
        for k, v in tm.state_dict().items():
            assert sm.state_dict()[k].dtype.name == str(v.dtype).split(".")[1]
            np.testing.assert_allclose(sm.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)
    tm.eval()
    sm.eval()
    x = RNG.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(sm(ts.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_batchnorm_errors_match_torch():
    cases = [(lambda n, lib: n.BatchNorm1d(3)(lib.randn(1, 3))), (lambda n, lib: n.BatchNorm2d(3)(lib.randn(2, 3, 4))),
             (lambda n, lib: n.BatchNorm1d(3)(lib.randn(2, 4))),
             (lambda n, lib: n.BatchNorm1d(3)(lib.randn(2, 3, 4, 5))),
             (lambda n, lib: n.GroupNorm(3, 4))]
    for call in cases:
        with pytest.raises(Exception) as te:
            call(torch.nn, torch)
        with pytest.raises(type(te.value)) as se:
            call(ts.nn, ts)
        assert str(se.value) == str(te.value).replace("torch.Size", "tensorstein.Size")


@pytest.mark.parametrize("groups,shape,affine", [(3, (4, 6, 5, 3), True), (1, (2, 4, 7), True), (4, (2, 4), False),
                                                 (2, (3, 4, 2, 2, 2), True)])
def test_groupnorm_against_torch(groups, shape, affine):
    tm, sm = torch.nn.GroupNorm(groups, shape[1], affine=affine), ts.nn.GroupNorm(groups, shape[1], affine=affine)
    assert repr(sm) == repr(tm)
    if affine:
        _load_random(tm, sm)
    x = RNG.standard_normal(shape).astype(np.float32)
    tx, sx = torch.tensor(x, requires_grad=True), ts.tensor(x, requires_grad=True)
    to, so = tm(tx), sm(sx)
    assert type(so.grad_fn).__name__ == type(to.grad_fn).__name__
    g = RNG.standard_normal(shape).astype(np.float32)
    to.backward(torch.tensor(g))
    so.backward(ts.tensor(g))
    np.testing.assert_allclose(so.detach().numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for a, b in zip(tm.parameters(), sm.parameters()):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_norm_double_backward_matches_torch():
    x = RNG.standard_normal((4, 3, 5)).astype(np.float64)
    w = RNG.standard_normal(3)
    results = []
    for lib in (torch, ts):
        xx, ww = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        out = lib.nn.functional.batch_norm(xx, None, None, ww, None, training=True) + \
            lib.nn.functional.group_norm(xx, 3, ww)
        (gx,) = lib.autograd.grad((out ** 3).sum(), (xx,), create_graph=True)
        (gx * gx).sum().backward()
        results.append((xx.grad.numpy(), ww.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-8)


# ---------------------------------------------------------------- pad / one_hot / interpolate
@pytest.mark.parametrize("shape,pad,mode", [((2, 3, 4, 5), (1, 2, 0, 3), "constant"),
                                           ((2, 3, 4, 5), (2, 1, 1, 3), "reflect"),
                                           ((2, 3, 5), (2, 3), "replicate"), ((1, 2, 4, 5), (3, 1, 2, 2), "circular"),
                                           ((2, 3, 4), (-1, 2), "constant")])
def test_pad_against_torch(shape, pad, mode):
    _compare("pad", shape, pad=pad, mode=mode)


def test_one_hot_against_torch():
    idx = RNG.integers(0, 5, (3, 4))
    np.testing.assert_array_equal(SF.one_hot(ts.tensor(idx)).numpy(), TF.one_hot(torch.tensor(idx)).numpy())
    np.testing.assert_array_equal(SF.one_hot(ts.tensor(idx), 7).numpy(), TF.one_hot(torch.tensor(idx), 7).numpy())
    with pytest.raises(RuntimeError) as te:
        TF.one_hot(torch.tensor(idx), 3)
    with pytest.raises(RuntimeError) as se:
        SF.one_hot(ts.tensor(idx), 3)
    assert str(se.value) == str(te.value)


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 5, 7), dict(size=(8, 4))), ((2, 3, 5, 7), dict(scale_factor=2)), ((2, 3, 5, 7), dict(scale_factor=1.7)),
    ((2, 3, 6), dict(scale_factor=0.5)), ((2, 3, 5, 7), dict(size=(9, 11), mode="bilinear")),
    ((2, 3, 5, 7), dict(size=(9, 3), mode="bilinear", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=1.5, mode="bilinear")),
    ((2, 3, 5, 7), dict(scale_factor=(2.3, 0.6), mode="bilinear", recompute_scale_factor=True)),
    ((2, 3, 6), dict(size=10, mode="linear")), ((2, 3, 5, 7), dict(size=(9, 11), mode="nearest-exact")),
])
def test_interpolate_against_torch(shape, kw):
    _compare("interpolate", shape, **kw)


@pytest.mark.parametrize("kw", [dict(size=4, scale_factor=2), dict(), dict(size=4, align_corners=True),
                                dict(size=4, mode="bilinear")])
def test_interpolate_errors_match_torch(kw):
    x = np.zeros((1, 2, 3), np.float32)
    with pytest.raises(Exception) as te:
        TF.interpolate(torch.tensor(x), **kw)
    with pytest.raises(type(te.value)) as se:
        SF.interpolate(ts.tensor(x), **kw)
    assert str(se.value) == str(te.value)


@pytest.mark.parametrize("shape,affine", [((4, 5, 6, 7), True), ((8, 3), False), ((3, 4, 9), True)])
def test_batchnorm_numba_kernels_match_numpy_path_and_torch(monkeypatch, shape, affine):
    from tensorstein.nn._functional import batchnorm as FB
    rng = np.random.default_rng(12)  # its own stream
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    cls = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d"}[len(shape)]
    runs = []
    for lib, flag in ((ts, True), (ts, False), (torch, None)):
        if flag is not None:
            monkeypatch.setattr(FB, "USE_NUMBA", flag)
        m = getattr(lib.nn, cls)(shape[1], affine=affine)
        xx = lib.tensor(x, requires_grad=True)
        y = m(xx)
        y.backward(lib.tensor(g))
        grads = [p.grad.detach().numpy() for p in m.parameters()]
        runs.append([y.detach().numpy(), xx.grad.numpy(), m.running_mean.numpy(), m.running_var.numpy()] + grads)
    for fused, numpy_path, ref in zip(*runs):
        np.testing.assert_allclose(fused, numpy_path, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(fused, ref, rtol=1e-5, atol=1e-5)
