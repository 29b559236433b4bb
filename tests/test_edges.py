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
    assert type(got) is AssertionError and str(got) == "Torch not compiled with CUDA enabled"


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


# ---------------------------------------------------------------- scaled_dot_product_attention
def _sdpa(lib, arrays, math=False, dtype=None, **kw):
    import contextlib
    mod = __import__("torch.nn.attention" if lib is torch else "tensorstein.nn.attention", fromlist=["x"])
    ctx = mod.sdpa_kernel(mod.SDPBackend.MATH) if math else contextlib.nullcontext()
    ts_ = [lib.tensor(a) for a in arrays]
    if dtype is not None:
        ts_ = [t.to(getattr(lib, dtype)) for t in ts_]
    with ctx:
        return lib.nn.functional.scaled_dot_product_attention(*ts_, **kw)


@pytest.mark.parametrize("math", [False, True])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("where", ["q", "k"])
def test_sdpa_propagates_nan_like_torch(math, causal, where):
    import numpy as np
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((2, 2, 40, 32)).astype(np.float32) for _ in range(3))
    (q if where == "q" else k)[0, 1, 7, 3] = np.nan
    want = _sdpa(torch, (q, k, v), math, is_causal=causal).numpy()
    got = _sdpa(ts, (q, k, v), math, is_causal=causal).numpy()
    assert np.isnan(want).sum() > 0
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("dtype,bound", [("bfloat16", 1.2), ("float16", 1.2)])
def test_sdpa_math_half_precision_computes_in_float32(dtype, bound):
    import numpy as np
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((1, 4, 64, 32)) * 3 for _ in range(3)]
    ref = _sdpa(torch, arrays).numpy()  # float64
    f32 = [a.astype(np.float32) for a in arrays]
    err_t = np.abs(_sdpa(torch, f32, True, dtype).float().numpy() - ref).max()
    err_s = np.abs(_sdpa(ts, f32, True, dtype).float().numpy() - ref).max()
    assert err_s <= bound * err_t, (err_s, err_t)


@pytest.mark.parametrize("math", [False, True])
def test_sdpa_backward_at_large_logits(math):
    import numpy as np
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((1, 2, 16, 8)) * 60, rng.standard_normal((1, 2, 16, 8)) * 60  # |logits| ~ 1e4
    v, g = rng.standard_normal((1, 2, 16, 8)), rng.standard_normal((1, 2, 16, 8))
    tq = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    torch.nn.functional.scaled_dot_product_attention(*tq).backward(torch.tensor(g))
    xs = [ts.tensor(a.astype(np.float32), requires_grad=True) for a in (q, k, v)]
    import contextlib
    ctx = ts.nn.attention.sdpa_kernel(ts.nn.attention.SDPBackend.MATH) if math else contextlib.nullcontext()
    with ctx:
        ts.nn.functional.scaled_dot_product_attention(*xs).backward(ts.tensor(g.astype(np.float32)))
    assert np.abs(xs[2].grad.numpy() - tq[2].grad.numpy()).max() < 1e-5


@pytest.mark.parametrize("math", [False, True])
@pytest.mark.parametrize("shapes", [((2, 0, 4), (2, 3, 4), (2, 3, 5)), ((2, 3, 4), (2, 0, 4), (2, 0, 5)),
                                    ((2, 3, 0), (2, 3, 0), (2, 3, 5)), ((2, 3, 4), (2, 3, 4), (2, 3, 0)),
                                    ((0, 3, 4), (0, 3, 4), (0, 3, 4))])
def test_sdpa_empty_dims_like_torch(math, shapes):
    import numpy as np
    arrays = [np.random.default_rng(4).standard_normal(s).astype(np.float32) for s in shapes]
    want = _sdpa(torch, arrays, math).numpy()
    got = _sdpa(ts, arrays, math).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
