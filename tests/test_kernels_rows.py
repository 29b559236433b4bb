"""Fused row kernels (src/tensorstein/_kernels/rows.py) against torch and the composite NumPy formulas:
softmax / log_softmax, layer_norm, rms_norm, cross_entropy, forward and backward, float32 and float64."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tensorstein._kernels import elementwise_engine as E
from tensorstein._kernels import rows as R

TOL = {np.float32: {"rtol": 1e-5, "atol": 2e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-13}}


def _data(shape, dtype, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,dim", [((400, 250), -1), ((400, 250), 0), ((3, 5, 7), 1), ((64, 1000), -1),
                                       ((2, 3), -1), ((5,), 0), ((130, 300), -1)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_forward_backward(shape, dim, log, dtype):
    x = _data(shape, dtype)
    x.reshape(-1)[::11] = -np.inf  # masked entries
    g = _data(shape, dtype, 1, 1.0)
    fwd, bwd, tfn = ((R.log_softmax_forward, R.log_softmax_backward, F.log_softmax) if log else
                     (R.softmax_forward, R.softmax_backward, F.softmax))
    y = fwd(x, dim)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    yt = tfn(tx, dim)
    yt.backward(torch.from_numpy(g))
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(bwd(g, y, dim), tx.grad.numpy(), rtol=TOL[dtype]["rtol"] * 4,
                               atol=TOL[dtype]["atol"] * 20)
    # composite oracle in float64
    xd = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ref = np.exp(xd - xd.max(dim, keepdims=True))
        ref = ref / ref.sum(dim, keepdims=True)
    np.testing.assert_allclose(np.exp(y) if log else y, ref, **TOL[dtype])


def test_softmax_special_rows():
    x = np.array([[-np.inf] * 4, [np.nan, 0, 1, 2], [1e30, 0, 0, -1e30], [np.inf, 0, 0, 0]], np.float32)
    for fwd, tfn in ((R.softmax_forward, F.softmax), (R.log_softmax_forward, F.log_softmax)):
        np.testing.assert_array_equal(fwd(x, -1), tfn(torch.from_numpy(x), -1).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,nshape", [((400, 250), (250,)), ((4, 6, 8), (6, 8)), ((300, 300), (300,)),
                                          ((7, 1), (1,))])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_forward_backward(shape, nshape, affine, dtype):
    x = _data(shape, dtype) + 5.0
    g = _data(shape, dtype, 1, 1.0)
    w = _data(nshape, dtype, 2, 1.0) if affine != "none" else None
    b = _data(nshape, dtype, 3, 1.0) if affine == "both" else None
    y, mean, rstd = R.layer_norm_forward(x, nshape, w, b, 1e-5)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    tw = None if w is None else torch.from_numpy(w.copy()).requires_grad_()
    tb = None if b is None else torch.from_numpy(b.copy()).requires_grad_()
    yt = F.layer_norm(tx, nshape, tw, tb, 1e-5)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL[dtype])
    tm, tr = torch.ops.aten.native_layer_norm(torch.from_numpy(x), list(nshape), None, None, 1e-5)[1:]
    np.testing.assert_allclose(mean, tm.numpy(), **TOL[dtype])
    np.testing.assert_allclose(rstd, tr.numpy(), **TOL[dtype])
    dx, dw, db = R.layer_norm_backward(g, x, mean, rstd, nshape, w, b)
    tol = {"rtol": TOL[dtype]["rtol"] * 10, "atol": TOL[dtype]["atol"] * 20}
    np.testing.assert_allclose(dx, tx.grad.numpy(), **tol)
    if w is not None:
        np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=tol["rtol"], atol=tol["atol"] * 50)
    if b is not None:
        np.testing.assert_allclose(db, tb.grad.numpy(), rtol=tol["rtol"], atol=tol["atol"] * 50)
    else:
        assert db is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps", [None, 1e-6])
def test_rms_norm_forward_backward(eps, dtype):
    x = _data((300, 200), dtype)
    g = _data(x.shape, dtype, 1, 1.0)
    w = _data((200,), dtype, 2, 1.0)
    y, rstd = R.rms_norm_forward(x, (200,), w, eps)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    tw = torch.from_numpy(w.copy()).requires_grad_()
    yt = F.rms_norm(tx, (200,), tw, eps)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL[dtype])
    xd = x.astype(np.float64)
    e = np.finfo(dtype).eps if eps is None else eps
    np.testing.assert_allclose(y, xd / np.sqrt((xd * xd).mean(-1, keepdims=True) + e) * w, **TOL[dtype])
    dx, dw = R.rms_norm_backward(g, x, rstd, (200,), w)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=TOL[dtype]["rtol"] * 10, atol=TOL[dtype]["atol"] * 20)
    np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=TOL[dtype]["rtol"] * 10, atol=TOL[dtype]["atol"] * 500)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("n,c", [(400, 250), (3, 7), (200, 1000)])
def test_cross_entropy_forward_backward(n, c, smoothing, reduction, dtype):
    rng = np.random.default_rng(5)
    x = _data((n, c), dtype)
    t = rng.integers(0, c, n)
    t[::7] = -100
    x[::7] = -np.inf  # ignored rows full of -inf: the loss stays finite
    x[1, ::3] = -np.inf  # a masked, non-ignored row
    t[1] = 1
    tx = torch.from_numpy(x.copy()).requires_grad_()
    lt = F.cross_entropy(tx, torch.from_numpy(t), reduction=reduction, label_smoothing=smoothing)
    g = rng.standard_normal(lt.shape).astype(dtype)
    lt.backward(torch.from_numpy(g))
    loss, lse = R.cross_entropy_forward(x, t, -100, reduction, smoothing)
    if smoothing == 0.0:  # (with smoothing the masked non-ignored row's -inf logits give inf, as torch)
        assert np.all(np.isfinite(loss))
    np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["atol"])
    d = R.cross_entropy_backward(g, x, t, lse, -100, reduction, smoothing)
    # the ignored all--inf rows: NaN gradient in both (torch: 0 * exp(log_softmax(-inf row)))
    np.testing.assert_allclose(d, tx.grad.numpy(), rtol=TOL[dtype]["rtol"] * 4, atol=TOL[dtype]["atol"] * 4)


def test_cross_entropy_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(IndexError, match="Target 3 is out of bounds."):
        R.cross_entropy_forward(x, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(2\) to match target batch_size \(3\)."):
        R.cross_entropy_forward(x, np.array([0, 1, 2]))
    loss, _ = R.cross_entropy_forward(x, np.array([-100, -100]))
    assert np.isnan(loss)  # torch: mean over no targets is nan


def test_rows_parallel_equals_serial(monkeypatch):
    x = _data((600, 250), np.float32)
    g = _data(x.shape, np.float32, 1)
    w = _data((250,), np.float32, 2)
    par = [R.softmax_forward(x), *R.layer_norm_forward(x, (250,), w, w),
           *R.layer_norm_backward(g, x, *R.layer_norm_forward(x, (250,), w, w)[1:], (250,), w, w)]
    monkeypatch.setattr(E, "PARALLEL_MIN", 10 ** 12)
    monkeypatch.setattr(E, "get_num_threads", lambda: 1)
    ser = [R.softmax_forward(x), *R.layer_norm_forward(x, (250,), w, w),
           *R.layer_norm_backward(g, x, *R.layer_norm_forward(x, (250,), w, w)[1:], (250,), w, w)]
    for a, b in zip(par[:5], ser[:5]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(par[5], ser[5], rtol=1e-5, atol=1e-4)  # dweight: partial sums per chunk
    np.testing.assert_allclose(par[6], ser[6], rtol=1e-5, atol=1e-4)
