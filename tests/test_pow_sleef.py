"""float ``pow`` bit for bit against torch's SLEEF kernel: scalar bases, tensor ** number, tensor ** tensor."""
import numpy as np
import pytest
import torch

import tensorstein as ts

_TD = {"float32": (torch.float32, ts.float32), "bfloat16": (torch.bfloat16, ts.bfloat16),
       "float16": (torch.float16, ts.float16), "float64": (torch.float64, ts.float64)}


def _bits_equal(t, s):
    wide = t.dtype is torch.float64
    a, b = (t.detach(), s.detach()) if wide else (t.detach().float(), s.detach().float())
    a, b = a.numpy(), b.numpy()
    assert a.shape == b.shape and str(t.dtype).split(".")[-1] == str(s.dtype).split(".")[-1]
    nan = np.isnan(a) & np.isnan(b)  # (half types: torch's NaN payload differs between its two loops)
    it = np.int64 if wide else np.int32
    np.testing.assert_array_equal(np.where(nan, 0, a).view(it), np.where(nan, 0, b).view(it))


def test_positional_encoding_cell():
    # ksopyla/pytorch-course notebook 01: 10000 ** (arange(0, d, 2) / d)
    for d in (8, 128, 512):
        e = np.arange(0, d, 2, dtype=np.float32) / np.float32(d)
        _bits_equal(10000 ** (torch.arange(0, d, 2).float() / d), 10000 ** (ts.arange(0, d, 2).float() / d))
        _bits_equal(10000 ** torch.from_numpy(e), 10000 ** ts.tensor(e))


@pytest.mark.parametrize("n", [1, 7, 33, 1000, 70001])
@pytest.mark.parametrize("base", [10000, 2, 0.5, np.e, 1e-3, -2.0, 0, 0.0, 1, 3])
def test_scalar_base_float32(n, base):
    e = np.random.default_rng(n).uniform(-3, 3, n).astype(np.float32)
    _bits_equal(base ** torch.from_numpy(e), base ** ts.tensor(e))
    _bits_equal(torch.pow(base, torch.from_numpy(e)), ts.pow(base, ts.tensor(e)))
    ei = np.round(e * 4).astype(np.float32)  # integral exponents: negative bases keep a sign
    _bits_equal(base ** torch.from_numpy(ei), base ** ts.tensor(ei))


@pytest.mark.parametrize("dt", ["bfloat16", "float16"])
def test_scalar_base_half_types(dt):
    td, sd = _TD[dt]
    e = np.random.default_rng(1).uniform(-3, 3, 1001).astype(np.float32)
    for base in (10.0, 2, 0.5, -3.0):
        t, s = base ** torch.from_numpy(e).to(td), base ** ts.tensor(e).to(sd)
        assert s.dtype is sd
        _bits_equal(t, s)


def test_scalar_base_integer_exponent_and_layouts():
    k = np.arange(-5, 20)
    _bits_equal(2.5 ** torch.from_numpy(k), 2.5 ** ts.tensor(k))  # int exponent -> float32 result
    assert (2 ** ts.tensor(k[k >= 0])).dtype is ts.int64
    np.testing.assert_array_equal((2 ** torch.from_numpy(k[k >= 0])).numpy(), (2 ** ts.tensor(k[k >= 0])).numpy())
    b = np.random.default_rng(2).uniform(-3, 3, (37, 53)).astype(np.float32)
    _bits_equal(7.5 ** torch.from_numpy(b).T, 7.5 ** ts.tensor(b).T)
    _bits_equal(7.5 ** torch.from_numpy(b)[:, 1:50], 7.5 ** ts.tensor(b)[:, 1:50])


def test_special_values_bit_patterns():
    sp = np.array([0, -0.0, 1, -1, np.inf, -np.inf, np.nan, 2, -2, 0.5, -0.5, 1e-45, 3e38, 1e-38, -3],
                  np.float32)
    x, y = (a.ravel().copy() for a in np.meshgrid(sp, sp))
    t, s = torch.from_numpy(x) ** torch.from_numpy(y), ts.tensor(x) ** ts.tensor(y)
    np.testing.assert_array_equal(t.numpy().view(np.int32), s.numpy().view(np.int32))  # NaN payloads too
    bits = np.random.default_rng(3).integers(-2**31, 2**31, (2, 4096)).astype(np.int32).view(np.float32)
    t, s = torch.from_numpy(bits[0]) ** torch.from_numpy(bits[1]), ts.tensor(bits[0]) ** ts.tensor(bits[1])
    np.testing.assert_array_equal(t.numpy().view(np.int32), s.numpy().view(np.int32))


@pytest.mark.parametrize("n", [5, 1000, 40001])
def test_tensor_tensor_and_broadcast(n):
    rng = np.random.default_rng(n)
    x, y = rng.uniform(0, 10, n).astype(np.float32), rng.uniform(-40, 40, n).astype(np.float32)
    _bits_equal(torch.from_numpy(x) ** torch.from_numpy(y), ts.tensor(x) ** ts.tensor(y))
    a, b = rng.uniform(0.1, 3, (9, 1)).astype(np.float32), rng.uniform(-3, 3, (1, 77)).astype(np.float32)
    _bits_equal(torch.from_numpy(a) ** torch.from_numpy(b), ts.tensor(a) ** ts.tensor(b))
    a = rng.uniform(0.1, 3, (5, 7, 45)).astype(np.float32)
    _bits_equal(torch.from_numpy(a) ** torch.from_numpy(b[0, :45]), ts.tensor(a) ** ts.tensor(b[0, :45]))


@pytest.mark.parametrize("e", [2.7, 5.0, 1 / 3, -3.0, 7.0, 1.5, 0.3])
@pytest.mark.parametrize("n", [7, 1000, 70001])
def test_tensor_number_float32_with_grad(e, n):
    rng = np.random.default_rng(n)
    x = rng.uniform(-3, 3, n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    tx, sx = torch.from_numpy(x).requires_grad_(), ts.tensor(x).requires_grad_()
    t, s = tx ** e, sx ** e
    _bits_equal(t, s)
    t.backward(torch.from_numpy(g))
    s.backward(ts.tensor(g))
    if e - 1 != 0.5:  # (e - 1 == 0.5 takes torch's MKL sqrt, not reproduced here)
        _bits_equal(tx.grad, sx.grad)
    else:
        np.testing.assert_allclose(tx.grad.numpy(), sx.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dt", ["bfloat16", "float16"])
def test_tensor_number_half_types(dt):
    td, sd = _TD[dt]
    x = np.abs(np.random.default_rng(4).uniform(-3, 3, 2001)).astype(np.float32)
    for e in (2.7, 5.0, 0.3):  # torch rounds the exponent to the tensor's dtype
        _bits_equal(torch.from_numpy(x).to(td) ** e, ts.tensor(x).to(sd) ** e)


@pytest.mark.parametrize("base", [10000.0, 2, 0.5, 0.0])
def test_scalar_base_grad(base):
    rng = np.random.default_rng(5)
    e = rng.uniform(-2, 2, 999).astype(np.float32)
    g = rng.standard_normal(999).astype(np.float32)
    te, se = torch.from_numpy(e).requires_grad_(), ts.tensor(e).requires_grad_()
    (base ** te).backward(torch.from_numpy(g))
    (base ** se).backward(ts.tensor(g))
    _bits_equal(te.grad, se.grad)


@pytest.mark.parametrize("n", [7, 1000, 40001])
def test_float64_scalar_base_tensor_tensor_and_number(n):
    rng = np.random.default_rng(n)
    e = rng.uniform(-3, 3, n)
    for base in (10000.0, 2, 0.5, np.e, -2.0, 0.0):
        _bits_equal(base ** torch.from_numpy(e), base ** ts.tensor(e))
    x, y = rng.uniform(0, 10, n), rng.uniform(-40, 40, n)
    _bits_equal(torch.from_numpy(x) ** torch.from_numpy(y), ts.tensor(x) ** ts.tensor(y))
    g = rng.standard_normal(n)
    for ex in (2.7, 5.0, 1 / 3):
        tx, sx = torch.from_numpy(x).requires_grad_(), ts.tensor(x).requires_grad_()
        t, s = tx ** ex, sx ** ex
        _bits_equal(t, s)
        t.backward(torch.from_numpy(g))
        s.backward(ts.tensor(g))
        _bits_equal(tx.grad, sx.grad)


def test_float64_special_values_bit_patterns():
    sp = np.array([0, -0.0, 1, -1, np.inf, -np.inf, np.nan, 2, -2, 0.5, 5e-324, 1.7e308, 2.2e-308, -3, 1e300])
    x, y = (a.ravel().copy() for a in np.meshgrid(sp, sp))
    t, s = torch.from_numpy(x) ** torch.from_numpy(y), ts.tensor(x) ** ts.tensor(y)
    np.testing.assert_array_equal(t.numpy().view(np.int64), s.numpy().view(np.int64))
    bits = np.random.default_rng(3).integers(-2**63, 2**63 - 1, (2, 4096)).view(np.float64)
    t, s = torch.from_numpy(bits[0]) ** torch.from_numpy(bits[1]), ts.tensor(bits[0]) ** ts.tensor(bits[1])
    np.testing.assert_array_equal(t.numpy().view(np.int64), s.numpy().view(np.int64))


def test_integer_tensor_to_a_float_number():
    k = np.arange(-5, 3000)
    for e in (2.7, -2.5, 1.5, 2.0):
        t, s = torch.from_numpy(k) ** e, ts.tensor(k) ** e
        assert s.dtype is ts.float32
        _bits_equal(t, s)
    np.testing.assert_array_equal((torch.from_numpy(k) ** 3).numpy(), (ts.tensor(k) ** 3).numpy())
