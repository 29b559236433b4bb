"""Fused element-wise kernels (src/tensorstein/_kernels/activations.py) against torch and against the
composite NumPy formula evaluated in float64: values (random and extreme inputs), input gradients with a random
upstream gradient, dtypes, and the chunked multi-threaded path."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tensorstein._kernels import activations as A
from tensorstein._kernels import elementwise_engine as E

EXTREME = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 3e38, -3e38, 1e-30, -1e-30, 1e-40, -1e-40,
           88.5, -88.5, 100.0, -100.0, 20.0, 20.5, -3.0, 3.0, 1.0, -1.0, 0.5, -0.5]


def _erf64(v):
    return np.vectorize(__import__("math").erf)(v)


def _softplus64(v, beta=1.0, threshold=20.0):
    return np.where(v * beta > threshold, v, np.logaddexp(0.0, v * beta) / beta)


# name -> (ours forward, ours backward, torch fn, float64 composite forward, atol float32, kw)
OPS = {
    "sigmoid": (A.sigmoid, A.sigmoid_backward, torch.sigmoid, lambda v: 1 / (1 + np.exp(-v)), 1e-7),
    "silu": (A.silu, A.silu_backward, F.silu, lambda v: v / (1 + np.exp(-v)), 1e-7),
    "gelu": (A.gelu, A.gelu_backward, F.gelu, lambda v: 0.5 * v * (1 + _erf64(v / np.sqrt(2))), 2e-6),
    "gelu_tanh": (lambda x: A.gelu(x, "tanh"), lambda g, x, y: A.gelu_backward(g, x, y, "tanh"),
                  lambda t: F.gelu(t, approximate="tanh"),
                  lambda v: 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3))), 2e-6),
    "erf": (A.erf, A.erf_backward, torch.erf, _erf64, 1e-7),
    "erfc": (A.erfc, A.erfc_backward, torch.erfc, lambda v: 1 - _erf64(v), 1e-7),
    "tanh": (A.tanh, A.tanh_backward, torch.tanh, np.tanh, 1e-7),
    "softplus": (A.softplus, A.softplus_backward, F.softplus, _softplus64, 1e-7),
    "softplus_b2": (lambda x: A.softplus(x, 2.0, 5.0), lambda g, x, y: A.softplus_backward(g, x, y, 2.0, 5.0),
                    lambda t: F.softplus(t, 2.0, 5.0), lambda v: _softplus64(v, 2.0, 5.0), 1e-7),
    "mish": (A.mish, A.mish_backward, F.mish, lambda v: v * np.tanh(np.logaddexp(0.0, v)), 1e-6),
    "elu": (lambda x: A.elu(x, 0.7), lambda g, x, y: A.elu_backward(g, x, y, 0.7), lambda t: F.elu(t, 0.7),
            lambda v: np.where(v > 0, v, 0.7 * np.expm1(v)), 1e-7),
    "selu": (A.selu, A.selu_backward, F.selu,
             lambda v: 1.0507009873554805 * np.where(v > 0, v, 1.6732632423543772 * np.expm1(v)), 1e-7),
    "celu": (lambda x: A.celu(x, 1.5), lambda g, x, y: A.celu_backward(g, x, y, 1.5), lambda t: F.celu(t, 1.5),
             lambda v: np.where(v > 0, v, 1.5 * np.expm1(v / 1.5)), 1e-7),
    "relu": (A.relu, A.relu_backward, torch.relu, lambda v: np.where(v > 0, v, 0.0 * v), 0.0),
    "leaky_relu": (lambda x: A.leaky_relu(x, 0.2), lambda g, x, y: A.leaky_relu_backward(g, x, y, 0.2),
                   lambda t: F.leaky_relu(t, 0.2), lambda v: np.where(v > 0, v, 0.2 * v), 0.0),
    "hardtanh": (lambda x: A.hardtanh(x, -2.0, 1.5), lambda g, x, y: A.hardtanh_backward(g, x, y, -2.0, 1.5),
                 lambda t: F.hardtanh(t, -2.0, 1.5), lambda v: np.clip(v, -2.0, 1.5), 0.0),
    "hardsigmoid": (A.hardsigmoid, A.hardsigmoid_backward, F.hardsigmoid, lambda v: np.clip(v + 3, 0, 6) / 6, 1e-7),
    "hardswish": (A.hardswish, A.hardswish_backward, F.hardswish, lambda v: v * np.clip(v + 3, 0, 6) / 6, 1e-7),
}


def _inputs(dtype, n=3000, scale=4.0):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(n) * scale, np.linspace(-12, 12, 1001), EXTREME])
    with np.errstate(over="ignore"):
        return x.astype(dtype)


def _check_close(ours, ref, rtol, atol):
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    assert np.array_equal(np.isnan(ours), np.isnan(ref)), "NaN positions differ"
    fin = np.isfinite(ref)
    assert np.array_equal(ours[~fin & ~np.isnan(ref)], ref[~fin & ~np.isnan(ref)]), "infinities differ"
    np.testing.assert_allclose(ours[fin], ref[fin], rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_forward_matches_torch_and_float64_formula(name, dtype):
    fwd, _, tfn, ref64, atol32 = OPS[name]
    x = _inputs(dtype)
    if name == "gelu" and dtype == np.float32:
        x = x[np.abs(x) != np.inf]  # torch's float32 vector path gives gelu(+-inf) = nan; ours +-inf, 0 (float64's)
    y = fwd(x)
    assert y.dtype == dtype and y.shape == x.shape
    yt = tfn(torch.from_numpy(x)).numpy()
    rtol, atol = (8e-7, atol32) if dtype == np.float32 else (4e-15, atol32 * 1e-8)
    _check_close(y, yt, rtol, atol)
    with np.errstate(all="ignore"):
        r = ref64(x.astype(np.float64))
    mid = np.abs(x) < 30  # the composite formulas overflow / cancel outside
    _check_close(y[mid], r[mid], rtol * 2, max(atol * 2, np.finfo(dtype).tiny))  # denormal results: absolute


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_backward_matches_torch(name, dtype):
    fwd, bwd, tfn, _, atol32 = OPS[name]
    x = _inputs(dtype)
    if name == "erfc":
        x = x[np.abs(x) < 1e20]
    if name in ("elu", "selu", "celu", "hardswish") and dtype == np.float64:
        x = x[~np.isnan(x)]  # torch's NaN gradient here differs between its float32 (grad) and float64 (NaN) paths
    g = np.random.default_rng(2).standard_normal(x.shape).astype(dtype)
    y = fwd(x)
    gx = bwd(g, x, y)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    tfn(tx).backward(torch.from_numpy(g))
    assert gx.dtype == dtype
    rtol, atol = (4e-6, max(atol32, 1e-7) * 4) if dtype == np.float32 else (1e-13, 1e-14)
    _check_close(gx, tx.grad.numpy(), rtol, atol)


def test_erfinv_forward_backward():
    for dtype in (np.float32, np.float64):
        special = [0.99999, -0.99999, 1.5, -1.5, np.nan, 1e-30, -0.0]
        x = np.concatenate([np.linspace(-1, 1, 2001), special]).astype(dtype)
        y = A.erfinv(x)
        tx = torch.from_numpy(x.copy()).requires_grad_()
        yt = torch.erfinv(tx)
        _check_close(y, yt.detach().numpy(), 2e-7 if dtype == np.float32 else 1e-14, 0)
        g = np.random.default_rng(3).standard_normal(x.shape).astype(dtype)
        yt.backward(torch.from_numpy(g))
        fin = np.abs(x) < 0.999
        _check_close(A.erfinv_backward(g, x, y)[fin], tx.grad.numpy()[fin], 1e-5 if dtype == np.float32 else 1e-12, 0)


@pytest.mark.parametrize("name", ["gelu", "sigmoid", "silu", "relu", "softplus"])
def test_chunked_path_equals_direct_call(name, monkeypatch):
    fwd, bwd = OPS[name][:2]
    x = np.random.default_rng(4).standard_normal((300, 250)).astype(np.float32) * 5
    g = np.random.default_rng(5).standard_normal(x.shape).astype(np.float32)
    big = fwd(x), bwd(g, x, fwd(x))
    monkeypatch.setattr(E, "PARALLEL_MIN", 10 ** 12)
    small = fwd(x), bwd(g, x, fwd(x))
    np.testing.assert_array_equal(big[0], small[0])
    np.testing.assert_array_equal(big[1], small[1])


def test_half_dtypes_compute_in_float32():
    x = _inputs(np.float32)[:2000]
    for half in (np.float16, torch.bfloat16):
        if half is np.float16:
            xh, th = x.astype(np.float16), torch.from_numpy(x).half()
        else:
            import ml_dtypes
            xh, th = x.astype(ml_dtypes.bfloat16), torch.from_numpy(x).bfloat16()
        y = A.gelu(xh)
        assert y.dtype == xh.dtype
        # one rounding of the float32 result (torch's half path rounds some intermediates too: <= 1 ulp apart)
        np.testing.assert_allclose(y.astype(np.float32), F.gelu(th).float().numpy(), rtol=2 ** -7, atol=1e-6)


def test_non_contiguous_input():
    x = np.random.default_rng(6).standard_normal((40, 30)).astype(np.float32).T
    np.testing.assert_allclose(A.silu(x), F.silu(torch.from_numpy(x)).numpy(), rtol=1e-6)


# ------------------------------------------------------------------ pow and chunked ufuncs
from tensorstein._kernels import pointwise as P  # noqa: E402 (this section's kernels)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("e", [2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 1.0, 0.0, 4.0, -3.0, 7.0, 2.5, -1.5, 1.7, -0.3])
def test_pow_scalar_exponent_matches_torch(e, dtype):
    x = _inputs(dtype)
    x = np.concatenate([x, np.abs(x)])
    y = P.pow_forward(x, e)
    assert y.dtype == dtype
    yt = torch.pow(torch.from_numpy(x), e).numpy()
    # torch's exact special cases give identical bits, and so does SLEEF's pow (sleef_pow.py);
    # (0.5 is torch's MKL sqrt: within an ulp)
    exact = e != 0.5
    _check_close(y, yt, 0 if exact else (2e-6 if dtype == np.float32 else 4.5e-16), 0)
    if exact:
        it = np.int32 if dtype == np.float32 else np.int64
        np.testing.assert_array_equal(y.view(it), yt.view(it))
    with np.errstate(all="ignore"):
        r = np.power(x.astype(np.float64), e)
    mid = (np.abs(x) < 1e3) & (np.abs(x) > 1e-3)
    # float32: SLEEF's powf (<= 1 ulp) of the exponent rounded to float32, or torch's multiply/divide
    # formulas; float64: libm pow
    _check_close(y[mid], r[mid], (1.2e-7 if float(np.float32(e)) == e else 6e-7) if dtype == np.float32 else 5e-16,
                 0)


@pytest.mark.parametrize("e", [2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 0.0, 1.0, 4.0, 2.5, 1.7])
def test_pow_backward_matches_torch(e):
    x = np.random.default_rng(7).uniform(0.1, 3.0, 5000).astype(np.float32)
    g = np.random.default_rng(8).standard_normal(x.shape).astype(np.float32)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    torch.pow(tx, e).backward(torch.from_numpy(g))
    np.testing.assert_allclose(P.pow_backward(g, x, None, e), tx.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_pow_chunked_equals_direct(monkeypatch):
    x = np.random.default_rng(9).standard_normal((300, 250)).astype(np.float32)
    big = [P.pow_forward(x, e) for e in (3.0, 4.0, 2.5)]
    monkeypatch.setattr(E, "PARALLEL_MIN", 10 ** 12)
    for b, e in zip(big, (3.0, 4.0, 2.5)):
        np.testing.assert_array_equal(b, P.pow_forward(x, e))


@pytest.mark.parametrize("shapes", [((300, 250), (300, 250)), ((300, 250), (250,)), ((300, 1, 4), (1, 50, 4)),
                                    ((3, 4), ()), ((100000,), (100000,))])
@pytest.mark.parametrize("ufunc", [np.add, np.multiply, np.maximum, np.greater])
def test_map_ufunc_matches_numpy(shapes, ufunc):
    rng = np.random.default_rng(10)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    np.testing.assert_array_equal(P.map_ufunc(ufunc, a, b), ufunc(a, b))
    assert P.map_ufunc(ufunc, a, b).dtype == ufunc(a, b).dtype


def test_exp_float32_within_half_an_ulp_split_or_not():
    """float32 exp (computed in float64, rounded once): within 0.503 ulp of the float64 reference over the
    whole range, denormal results included; NaN / inf / overflow as torch; the same bits split over two
    threads as on one; float64 stays NumPy's exp."""
    import tensorstein as ts
    from tensorstein._kernels import pointwise as P

    rng = np.random.default_rng(0)
    x = np.concatenate([EXTREME, [-103.97, -87.34, 88.72, 88.73, -110.0, 90.0], rng.uniform(-104, 89, 400_000),
                        rng.standard_normal(100_000)]).astype(np.float32)
    x = x[:x.size // 6 * 6]
    got = P.exp32(x)
    ref = np.exp(x.astype(np.float64))
    with np.errstate(over="ignore"):
        ref32 = ref.astype(np.float32)
    fin = np.isfinite(ref32) & np.isfinite(got)
    ulps = np.abs(got[fin].astype(np.float64) - ref[fin]) / np.spacing(np.abs(ref32[fin])).astype(np.float64)
    assert ulps.max() <= 0.503
    t = torch.exp(torch.from_numpy(x)).numpy()
    assert np.array_equal(got[~fin], t[~fin], equal_nan=True)
    old = ts.get_num_threads()
    ts.set_num_threads(2)
    try:
        two = ts.exp(ts.tensor(x.reshape(-1, 6))).numpy().reshape(-1)
    finally:
        ts.set_num_threads(old)
    assert np.array_equal(two, got, equal_nan=True)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):
        assert np.array_equal(ts.exp(ts.tensor(x64)).numpy(), np.exp(x64), equal_nan=True)
