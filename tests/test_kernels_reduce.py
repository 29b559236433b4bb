"""Parallel reductions (src/tensorstein/_kernels/reduce.py) against torch and NumPy in float64: sum, mean,
amax / max with indices, var, norm over all elements or one dim, small (direct) and large (chunked)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tensorstein._kernels import reduce as K

SHAPES = [(7, 5), (400, 250), (2000, 300), (3, 40000), (50000, 3), (4, 5, 6000), (70000,)]


def _x(shape, dtype, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 3 + 1).astype(dtype)


def _dims(shape):
    return [None, *range(len(shape)), -1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_sum_mean_amax_norm(shape, dtype):
    x = _x(shape, dtype)
    t = torch.from_numpy(x)
    rtol = 2e-6 if dtype == np.float32 else 1e-13
    for dim in _dims(shape):
        for keep in (False, True):
            kw = {} if dim is None else {"dim": dim, "keepdim": keep}
            if dim is None and keep:
                continue
            for ours, ref, tol in ((K.sum_, torch.sum, rtol), (K.mean, torch.mean, rtol), (K.amax, torch.amax, 0)):
                got = ours(x, dim, keep)
                want = ref(t, **kw).numpy() if dim is not None or ref is not torch.amax else ref(t).numpy()
                assert got.dtype == dtype and got.shape == want.shape, (ours.__name__, dim, keep)
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)
            # torch's float32 vector_norm accumulates less accurately than the pairwise sums here (~3e-6)
            for p in (2.0, 1.0):
                got = K.norm(x, p, dim, keep)
                np.testing.assert_allclose(got, torch.linalg.vector_norm(t, p, **kw).numpy(), rtol=rtol * 4)
                xd = np.abs(x.astype(np.float64))
                ref = np.sqrt((xd * xd).sum(axis=dim, keepdims=keep)) if p == 2.0 else xd.sum(axis=dim, keepdims=keep)
                np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype == np.float32 else rtol)  # strided: serial
    # float64 oracle for the full sum: pairwise chunks stay accurate
    np.testing.assert_allclose(K.sum_(x), x.astype(np.float64).sum(), rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("correction", [0, 1])
def test_var_and_backward(shape, correction, dtype):
    x = _x(shape, dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for dim in _dims(shape):
        tx = torch.from_numpy(x.copy()).requires_grad_()
        v = torch.var(tx, correction=correction) if dim is None else torch.var(tx, dim, correction=correction)
        got = K.var(x, dim, correction)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, v.detach().numpy(), rtol=rtol)
        g = np.random.default_rng(1).standard_normal(v.shape).astype(dtype)
        v.backward(torch.from_numpy(g))
        np.testing.assert_allclose(K.var_backward(g, x, dim, correction), tx.grad.numpy(), rtol=rtol * 10,
                                   atol=rtol)


def test_max_dim_indices_and_nan():
    x = _x((300, 400), np.float32)
    x[5, 7] = np.nan
    x[9, :] = 2.0  # ties: first index
    with np.errstate(invalid="ignore"):
        x[11, 3] = np.float32(np.inf) - np.float32(np.inf)  # x86's default NaN has the sign bit set
    for dim in (0, 1):
        v, i = K.max_dim(x, dim)
        tv, ti = torch.max(torch.from_numpy(x), dim)
        np.testing.assert_array_equal(v, tv.numpy())
        np.testing.assert_array_equal(i, ti.numpy())
    assert np.isnan(K.amax(x)) and np.isnan(K.sum_(x))
    np.testing.assert_array_equal(K.amax(x, -1), torch.from_numpy(x).amax(-1).numpy())


def test_norm_backward_zero_norm():
    x = np.zeros((3, 4), np.float32)
    x[1] = [3, 4, 0, 0]
    tx = torch.from_numpy(x.copy()).requires_grad_()
    n = torch.linalg.vector_norm(tx, 2, dim=1)
    g = np.array([1.0, 2.0, 3.0], np.float32)
    n.backward(torch.from_numpy(g))
    np.testing.assert_allclose(K.norm_backward(g, x, K.norm(x, 2.0, 1), 2.0, 1), tx.grad.numpy())


def test_var_too_few_elements():
    x = np.ones(1, np.float32)
    assert np.isnan(K.var(x)) == np.isnan(torch.var(torch.from_numpy(x)).item())
