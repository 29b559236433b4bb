"""nn.functional vs torch: values and gradients (random upstream gradients), fused ops vs their composites,
and torch's error texts."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tensorstein as ts
import tensorstein.nn.functional as F
from tensorstein.nn._functional import activation as FA
from tensorstein.nn._functional import loss as FL
from tensorstein.nn._functional import normalization as FN

RNG = np.random.default_rng(0)


def _pair(arr, grad=True):
    return ts.tensor(arr, requires_grad=grad), torch.tensor(arr, requires_grad=grad)


def _check(fn_ts, fn_torch, arrays, grad_mask=None, atol=1e-5, rtol=1e-5, kwargs_ts=None, kwargs_torch=None):
    """Compare outputs and the gradients of every float input for a random upstream gradient."""
    grad_mask = grad_mask or [a.dtype.kind == "f" for a in arrays]
    a_ts = [ts.tensor(a, requires_grad=m) for a, m in zip(arrays, grad_mask)]
    a_th = [torch.tensor(a, requires_grad=m) for a, m in zip(arrays, grad_mask)]
    y_ts = fn_ts(*a_ts, **(kwargs_ts or {}))
    y_th = fn_torch(*a_th, **(kwargs_torch or kwargs_ts or {}))
    np.testing.assert_allclose(y_ts.detach().numpy(), y_th.detach().numpy(), atol=atol, rtol=rtol)
    g = RNG.standard_normal(tuple(y_th.shape)).astype(arrays[0].dtype)
    y_ts.backward(ts.tensor(g))
    y_th.backward(torch.tensor(g))
    for t, u, m in zip(a_ts, a_th, grad_mask):
        if m:
            np.testing.assert_allclose(t.grad.numpy(), u.grad.numpy(), atol=atol, rtol=rtol)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias):
    arrays = [f32(*shape), f32(6, 3)] + ([f32(6)] if bias else [])
    _check(F.linear, TF.linear, arrays)


def test_linear_errors():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x3 and 5x6\)"):
        F.linear(ts.ones(4, 3), ts.ones(6, 5))
    with pytest.raises(RuntimeError, match="mat1 and mat2 must have the same dtype, but got Float and Double"):
        F.linear(ts.ones(4, 3), ts.ones(6, 3, dtype=ts.float64))


@pytest.mark.parametrize("name", ["relu", "silu", "tanh", "sigmoid", "softplus", "leaky_relu", "elu", "mish"])
def test_activations(name):
    _check(getattr(F, name), getattr(TF, name), [f32(5, 7)])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    x = f32(6, 9) * 3
    _check(F.gelu, TF.gelu, [x], kwargs_ts={"approximate": approximate})
    a = ts.tensor(x, requires_grad=True)
    np.testing.assert_allclose(F.gelu(a, approximate).detach().numpy(),
                               FA._gelu_composite(a, approximate).detach().numpy(), atol=1e-6)


def test_gelu_double_backward_tanh():
    x = f32(5)
    a, b = _pair(x)
    (ga,) = ts.autograd.grad(F.gelu(a, approximate="tanh").sum(), a, create_graph=True)
    (gb,) = torch.autograd.grad(TF.gelu(b, approximate="tanh").sum(), b, create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), gb.detach().numpy(), atol=1e-6)
    assert ga.requires_grad


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(dim):
    _check(F.softmax, TF.softmax, [f32(4, 5)], kwargs_ts={"dim": dim})
    _check(F.log_softmax, TF.log_softmax, [f32(4, 5)], kwargs_ts={"dim": dim})


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(affine):
    x, w, b = f32(3, 4, 8), f32(8), f32(8)
    if affine:
        _check(lambda x, w, b: F.layer_norm(x, (8,), w, b), lambda x, w, b: TF.layer_norm(x, (8,), w, b), [x, w, b])
    else:
        _check(lambda x: F.layer_norm(x, (4, 8)), lambda x: TF.layer_norm(x, (4, 8)), [x])
    a = ts.tensor(x)
    np.testing.assert_allclose(F.layer_norm(a, (8,), ts.tensor(w), ts.tensor(b)).numpy(),
                               FN._layer_norm_composite(a, (8,), ts.tensor(w), ts.tensor(b)).numpy(), atol=1e-5)


def test_layer_norm_errors():
    with pytest.raises(RuntimeError) as e:
        F.layer_norm(ts.ones(2, 3), (4,))
    with pytest.raises(RuntimeError) as e2:
        TF.layer_norm(torch.ones(2, 3), (4,))
    assert str(e.value) == str(e2.value)


def test_rms_norm():
    _check(lambda x, w: F.rms_norm(x, (6,), w), lambda x, w: TF.rms_norm(x, (6,), w), [f32(3, 6), f32(6)])
    _check(lambda x: F.rms_norm(x, (6,), eps=1e-3), lambda x: TF.rms_norm(x, (6,), eps=1e-3), [f32(3, 6)])


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding(padding_idx):
    idx = np.array([[0, 1, 3], [1, 1, 2]])
    w = f32(5, 4)
    a, b = ts.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    ya = F.embedding(ts.tensor(idx), a, padding_idx=padding_idx)
    yb = TF.embedding(torch.tensor(idx), b, padding_idx=padding_idx)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy())
    g = f32(2, 3, 4)
    ya.backward(ts.tensor(g))
    yb.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-6)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(ts.tensor([5]), a)


def test_dropout():
    ts.manual_seed(0)
    x = ts.ones(1000, requires_grad=True)
    y = F.dropout(x, 0.25)
    kept = y.detach().numpy() != 0
    assert 0.65 < kept.mean() < 0.85
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy(), rtol=1e-6)
    assert F.dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def _ce_case(kw):
    k_ts = {k: (ts.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    k_th = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    return k_ts, k_th


CE_CASES = [
    {}, {"reduction": "sum"}, {"reduction": "none"}, {"label_smoothing": 0.1},
    {"weight": np.array([0.2, 1.0, 0.5, 2.0, 1.5], np.float32)},
    {"weight": np.array([0.2, 1.0, 0.5, 2.0, 1.5], np.float32), "label_smoothing": 0.2},
    {"ignore_index": 2}, {"ignore_index": 2, "label_smoothing": 0.3, "reduction": "sum"},
]


@pytest.mark.parametrize("kw", CE_CASES)
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 4)])
def test_cross_entropy_indices(kw, shape):
    x = f32(*shape)
    tshape = (shape[0],) + shape[2:]
    t = RNG.integers(0, 5, tshape)
    t.reshape(-1)[1] = kw.get("ignore_index", -100)
    k_ts, k_th = _ce_case(kw)
    _check(lambda x: F.cross_entropy(x, ts.tensor(t), **k_ts), lambda x: TF.cross_entropy(x, torch.tensor(t), **k_th),
           [x])


def test_cross_entropy_fused_matches_composite():
    x, t = f32(7, 4), RNG.integers(0, 4, 7)
    for red in ("mean", "sum"):
        a, b = ts.tensor(x, requires_grad=True), ts.tensor(x, requires_grad=True)
        ya = FL._cross_entropy_fused(a, ts.tensor(t), -100, red)
        yb = FL._cross_entropy_composite(b, ts.tensor(t), reduction=red)
        ya.backward()
        yb.backward()
        np.testing.assert_allclose(ya.item(), yb.item(), rtol=1e-6)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-7)


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2}, {"reduction": "sum"},
                                {"weight": np.array([1.0, 0.5, 2.0], np.float32)}])
def test_cross_entropy_probabilities(kw):
    x = f32(4, 3, 2)
    p = np.abs(f32(4, 3, 2))
    p /= p.sum(1, keepdims=True)
    k_ts, k_th = _ce_case(kw)
    _check(lambda x: F.cross_entropy(x, ts.tensor(p), **k_ts), lambda x: TF.cross_entropy(x, torch.tensor(p), **k_th),
           [x])


def _same_error(fn_ts, fn_th, exc):
    with pytest.raises(exc) as e1:
        fn_ts()
    with pytest.raises(exc) as e2:
        fn_th()
    assert str(e1.value) == str(e2.value).replace("torch.", "tensorstein.")


def test_loss_errors():
    x, xt = ts.ones(3, 4), torch.ones(3, 4)
    _same_error(lambda: F.cross_entropy(x, ts.tensor([0, 1])), lambda: TF.cross_entropy(xt, torch.tensor([0, 1])),
                ValueError)
    _same_error(lambda: F.cross_entropy(x, ts.tensor([0, 1, 4])),
                lambda: TF.cross_entropy(xt, torch.tensor([0, 1, 4])), IndexError)
    _same_error(lambda: F.nll_loss(x, ts.tensor([[0], [1], [2]])),
                lambda: TF.nll_loss(xt, torch.tensor([[0], [1], [2]])), RuntimeError)
    _same_error(lambda: F.binary_cross_entropy_with_logits(x, ts.ones(3)),
                lambda: TF.binary_cross_entropy_with_logits(xt, torch.ones(3)), ValueError)
    _same_error(lambda: F.binary_cross_entropy(x * 0.5, ts.ones(3, 1)),
                lambda: TF.binary_cross_entropy(xt * 0.5, torch.ones(3, 1)), ValueError)
    _same_error(lambda: F.one_hot(ts.tensor([0, 3]), 3), lambda: TF.one_hot(torch.tensor([0, 3]), 3), RuntimeError)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    x, t = f32(5, 4), RNG.integers(0, 4, 5)
    w = np.abs(f32(4))
    _check(lambda x: F.nll_loss(x, ts.tensor(t), weight=ts.tensor(w), reduction=reduction),
           lambda x: TF.nll_loss(x, torch.tensor(t), weight=torch.tensor(w), reduction=reduction), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    for f_ts, f_th in [(F.mse_loss, TF.mse_loss), (F.l1_loss, TF.l1_loss), (F.smooth_l1_loss, TF.smooth_l1_loss)]:
        _check(lambda a, b, f=f_ts: f(a, b, reduction=reduction), lambda a, b, f=f_th: f(a, b, reduction=reduction),
               [f32(4, 3), f32(4, 3)])


def test_binary_losses():
    p = 1 / (1 + np.exp(-f32(4, 3)))
    t = (RNG.random((4, 3)) > 0.5).astype(np.float32)
    w = np.abs(f32(4, 3))
    _check(lambda a: F.binary_cross_entropy(a, ts.tensor(t), weight=ts.tensor(w)),
           lambda a: TF.binary_cross_entropy(a, torch.tensor(t), weight=torch.tensor(w)), [p])
    pw = np.abs(f32(3)) + 0.5
    for red in ("mean", "none"):
        _check(lambda a, r=red: F.binary_cross_entropy_with_logits(a, ts.tensor(t), pos_weight=ts.tensor(pw),
                                                                   reduction=r),
               lambda a, r=red: TF.binary_cross_entropy_with_logits(a, torch.tensor(t), pos_weight=torch.tensor(pw),
                                                                    reduction=r), [f32(4, 3) * 10])


def test_one_hot():
    t = np.array([[0, 2], [1, 3]])
    np.testing.assert_array_equal(F.one_hot(ts.tensor(t)).numpy(), TF.one_hot(torch.tensor(t)).numpy())
    np.testing.assert_array_equal(F.one_hot(ts.tensor(t), 6).numpy(), TF.one_hot(torch.tensor(t), 6).numpy())
    assert F.one_hot(ts.tensor(t)).dtype == ts.int64


@pytest.mark.parametrize("pad,mode", [((1, 2), "constant"), ((1, 0, 2, 1), "constant"), ((-1, 2), "constant"),
                                      ((2, 1), "reflect"), ((1, 2, 1, 1), "replicate"), ((1, 2), "circular")])
def test_pad(pad, mode):
    x = f32(2, 3, 4)
    _check(lambda a: F.pad(a, pad, mode=mode), lambda a: TF.pad(a, pad, mode=mode), [x])
    if mode == "constant":
        _check(lambda a: F.pad(a, pad, value=2.5), lambda a: TF.pad(a, pad, value=2.5), [x])


def test_double_backward_fused_ops():
    """create_graph through the fused layer_norm / cross_entropy / gelu matches torch (float64)."""
    x, w, b = (RNG.standard_normal(s) for s in ((4, 6), (6,), (6,)))
    g = RNG.standard_normal((4, 6))
    t = RNG.integers(0, 6, 4)
    cases = [(lambda a, w, b: F.layer_norm(a, (6,), w, b), lambda a, w, b: TF.layer_norm(a, (6,), w, b)),
             (lambda a, w, b: F.gelu(a) * w + b, lambda a, w, b: TF.gelu(a) * w + b),
             (lambda a, w, b: F.cross_entropy(a * w, ts.tensor(t)) + b.sum(),
              lambda a, w, b: TF.cross_entropy(a * w, torch.tensor(t)) + b.sum())]
    for f_ts, f_th in cases:
        res = []
        for lib, f in ((ts, f_ts), (torch, f_th)):
            a, wt, bt = (lib.tensor(v, requires_grad=True) for v in (x, w, b))
            y = f(a, wt, bt)
            gy = lib.tensor(g if y.dim() else 1.0, dtype=lib.float64)
            (gx,) = lib.autograd.grad(y, a, gy, create_graph=True)
            (gx * gx).sum().backward()
            res.append((gx.detach().numpy(), a.grad.numpy(), wt.grad.numpy()))
        for u, v in zip(*res):
            np.testing.assert_allclose(u, v, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("name,kw", [("relu", {}), ("relu6", {}), ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
                                     ("leaky_relu", {"negative_slope": 0.2}), ("elu", {"alpha": 0.7}), ("selu", {}),
                                     ("celu", {"alpha": 1.3}), ("hardsigmoid", {}), ("hardswish", {}), ("silu", {}),
                                     ("mish", {})])
def test_inplace_activations_write_into_their_input(name, kw):
    """``inplace=True`` writes the result into the input and returns it, as torch; through a non-leaf the
    gradient is torch's; a leaf that requires grad refuses with torch's message."""
    vals = np.array([-4.0, -1.0, -0.25, 0.5, 3.0, 8.0], np.float32)
    x, tx = ts.tensor(vals), torch.tensor(vals)
    y, ty = getattr(ts.nn.functional, name)(x, inplace=True, **kw), getattr(torch.nn.functional, name)(
        tx, inplace=True, **kw)
    assert y is x and ty is tx
    np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=1e-6, atol=1e-7)
    a, ta = ts.tensor(vals, requires_grad=True), torch.tensor(vals, requires_grad=True)
    g = np.linspace(-1, 1, vals.size).astype(np.float32)
    getattr(ts.nn.functional, name)(a * 1.5, inplace=True, **kw).backward(ts.tensor(g))
    getattr(torch.nn.functional, name)(ta * 1.5, inplace=True, **kw).backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        getattr(ts.nn.functional, name)(ts.tensor(vals, requires_grad=True), inplace=True, **kw)
