"""Edge cases of issue 11 that the sample table cannot express: requests that must be refused before any
memory is allocated, and writes through expanded views. (The value/error cases are samples in
tests/op_samples/edges.py, compared with torch by tests/test_core_ops.py.)"""
from __future__ import annotations

import time
import tracemalloc

import pytest
import torch

import tensorstein as ts


def _refused_fast(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(Exception) as info:
            fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 0.5
    assert peak < 50 * 2 ** 20, f"allocated {peak} bytes before refusing"
    return info.value


@pytest.mark.parametrize("shape", [(2 ** 40,), (2 ** 20, 2 ** 20, 2 ** 10), (2 ** 33, 2)])
def test_huge_zeros_is_torch_allocator_error_without_allocating(shape):
    with pytest.raises(RuntimeError) as want:
        torch.zeros(*shape)
    got = _refused_fast(lambda: ts.zeros(*shape))
    assert type(got) is RuntimeError
    assert str(got).split("\n")[0] == str(want.value).split("\n")[0]


@pytest.mark.parametrize("make", [lambda L: L.full((2 ** 40,), 1.0, device="cuda"),
                                  lambda L: L.zeros(2 ** 40, device="cuda"),
                                  lambda L: L.ones(2 ** 40, device="cuda")])
def test_cuda_device_rejected_before_allocating(make):
    with pytest.raises(AssertionError):  # torch: "Torch not compiled with CUDA enabled"
        make(torch)
    got = _refused_fast(lambda: make(ts))
    assert "cuda" in str(got).lower()


def test_fill_on_expanded_view_writes_the_base_like_torch():
    for lib in (torch, ts):
        base = lib.zeros(1, 4)
        out = base.expand(3, 4).fill_(2.5)
        assert out.shape == (3, 4) and out.tolist() == [[2.5] * 4] * 3
        assert base.tolist() == [[2.5] * 4]
        base.expand(3, 4).zero_()
        assert base.tolist() == [[0.0] * 4]


def test_half_times_large_python_number_is_not_cast_to_half_first():
    vals = [0.01, 2.0, -1e-3, 0.5]
    res = {}
    for lib in (torch, ts):
        x = lib.tensor(vals, dtype=lib.float16)
        res[lib] = [(x * 1e5).tolist(), (1e5 * x).tolist(), (x / 1e-5).tolist(), (x * 7e4).tolist(),
                    str((x * 1e5).dtype).split(".")[-1]]
    assert res[ts] == res[torch]
    assert res[ts][0][0] == 1000.0


@pytest.mark.parametrize("fn,kw", [("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.1}),
                                   ("cross_entropy", {"reduction": "sum"}), ("cross_entropy", {"reduction": "none"}),
                                   ("nll_loss", {}), ("nll_loss", {"reduction": "none"})])
def test_ignored_row_of_minus_inf_logits_stays_finite_like_torch(fn, kw):
    import warnings

    import numpy as np
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    x[1, :] = -np.inf  # the ignored row
    x[2, 3] = -np.inf
    t = np.array([0, 1, 0, 2])
    res = []
    for lib in (torch, ts):
        xi = lib.tensor(x, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = getattr(lib.nn.functional, fn)(xi, lib.tensor(t), ignore_index=1, **kw)
            out.sum().backward()
        res.append((out.detach().numpy(), xi.grad.numpy()))
    (want, want_g), (got, got_g) = res
    assert np.isfinite(got).all() or kw.get("label_smoothing")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-5, atol=1e-6, equal_nan=True)  # torch: NaN grad on that row
