"""The inference kernels behind layer_norm, gelu and _masked_softmax (no autograd) vs torch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tensorstein as ts  # noqa: E402
from tensorstein.nn import functional as F  # noqa: E402
from tensorstein.nn._functional.activation import _masked_softmax  # noqa: E402

TF = torch.nn.functional


@pytest.mark.parametrize("dt,tol", [(np.float32, 2e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape,norm", [((4, 6, 33), (33,)), ((3, 5, 4, 7), (4, 7)), ((9,), (9,))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_no_grad(dt, tol, shape, norm, affine):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dt)
    w = rng.standard_normal(norm).astype(dt) if affine else None
    b = rng.standard_normal(norm).astype(dt) if affine else None
    with ts.no_grad():
        y = F.layer_norm(ts.tensor(x), norm, *(None if a is None else ts.tensor(a) for a in (w, b)), eps=1e-6)
    r = TF.layer_norm(torch.tensor(x), norm, *(None if a is None else torch.tensor(a) for a in (w, b)), eps=1e-6)
    assert y.dtype.name == str(r.dtype)[6:]
    np.testing.assert_allclose(y.numpy(), r.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gelu_no_grad(dt):
    x = np.linspace(-7, 7, 4001).astype(dt).reshape(1, 4001)
    with ts.no_grad():
        y = F.gelu(ts.tensor(x)).numpy()
    # float32: erf by a rational approximation (abs error <= ~6e-7, so gelu's <= ~2e-6); float64: math.erf
    np.testing.assert_allclose(y, TF.gelu(torch.tensor(x)).numpy(), rtol=1e-6, atol=2e-6 if dt == np.float32 else 1e-12)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["padding", "full", "2d"])
def test_masked_softmax(dt, kind):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((3, 2, 5, 70)) * 4).astype(dt)
    mask = {"padding": rng.random((3, 70)) > 0.6, "full": rng.random((3, 2, 5, 70)) > 0.5,
            "2d": rng.random((5, 70)) > 0.5}[kind]
    mask[0] = True  # rows with every key masked give zeros
    mt = 1 if kind == "padding" else None
    tm = torch.tensor(mask)[:, None, None, :] if kind == "padding" else torch.tensor(mask)
    ref = torch.softmax(torch.tensor(x).masked_fill(tm, -float("inf")), -1).nan_to_num(0.0).numpy()
    y = _masked_softmax(ts.tensor(x), ts.tensor(mask), -1, mt)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-7)
    xg = ts.tensor(x, requires_grad=True)  # the composite path (with autograd) gives the same values
    np.testing.assert_allclose(_masked_softmax(xg, ts.tensor(mask), -1, mt).detach().numpy(), ref, rtol=1e-5,
                               atol=1e-7)


@pytest.mark.parametrize("grad", [False, True])
def test_add_layer_norm(grad):
    from tensorstein.nn._functional.normalization import _add_layer_norm

    rng = np.random.default_rng(2)
    x, r = (rng.standard_normal((4, 6, 33)).astype(np.float32) for _ in range(2))
    xb, w, b = (rng.standard_normal(33).astype(np.float32) for _ in range(3))
    ref = TF.layer_norm(torch.tensor(x) + torch.tensor(xb) + torch.tensor(r), (33,), torch.tensor(w), torch.tensor(b),
                        1e-12).numpy()
    xt = ts.tensor(x, requires_grad=grad)
    y = _add_layer_norm(xt, ts.tensor(xb), ts.tensor(r), (33,), ts.tensor(w), ts.tensor(b), 1e-12)
    assert y.requires_grad == grad
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=2e-6, atol=2e-6)
