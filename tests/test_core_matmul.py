"""Property tests (hypothesis) against torch: matmul over random broadcastable batch shapes (1-D operands and
zero sizes included) and broadcasting binary ops over random shapes and dtypes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorstein as ts
from op_samples import T, assert_same, assert_same_error, first_line

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
dims = st.integers(0, 4)


@st.composite
def matmul_shapes(draw):
    m, k, n = draw(dims), draw(dims), draw(dims)
    nd_a, nd_b = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(st.lists(st.integers(0, 3), min_size=2, max_size=2))
    a = (k,) if nd_a == 1 else tuple(draw(st.sampled_from([1, b])) for b in batch[: nd_a - 2]) + (m, k)
    b = (k,) if nd_b == 1 else tuple(draw(st.sampled_from([1, b])) for b in batch[: nd_b - 2]) + (k, n)
    if draw(st.booleans()):  # sometimes a mismatched inner dimension: the error must be torch's
        b = b[:-2] + (k + 1,) + b[-1:] if len(b) >= 2 else (k + 1,)
    return a, b


def _run(fn, *specs, message=True):
    outs = []
    for lib in (ts, torch):
        try:
            outs.append((fn(lib, *[s.make(lib)[0] for s in specs]), None))
        except Exception as e:  # noqa: BLE001
            outs.append((None, e))
    (got, gexc), (want, wexc) = outs
    if wexc is not None:
        if message:
            assert_same_error(gexc, wexc)
        else:
            assert isinstance(gexc, type(wexc)), f"{gexc!r} vs torch {wexc!r}"
    else:
        assert gexc is None, f"tensorstein raised {first_line(gexc)}"
        assert_same(got, want, tol=4)


@SETTINGS
@given(matmul_shapes(), st.sampled_from(["float32", "float64", "int64", "int32"]),
       st.sampled_from([None, "T", "step"]))
def test_matmul_random_batch_shapes(shapes, dtype, layout):
    sa, sb = shapes
    a, b = T(sa, dtype, layout=layout), T(sb, dtype)
    # a 1-D left operand with a batched right one: torch folds it into a transposed mv and names those
    # shapes in its message; tensorstein names the batched product (same exception type)
    # likewise a transposed batched left operand with a 1-D/2-D right one: torch does not fold it into one
    # GEMM (its strides forbid it), so its message comes from bmm where tensorstein's comes from mm/mv
    message = not (len(sa) == 1 and len(sb) >= 3) and not (layout == "T" and len(sa) >= 3 and len(sb) <= 2)
    _run(lambda L, x, y: L.matmul(x, y), a, b, message=message)
    _run(lambda L, x, y: x @ y, a, b, message=message)


@SETTINGS
@given(matmul_shapes())
def test_matmul_gradients_random_shapes(shapes):
    sa, sb = shapes
    a, b = T(sa), T(sb)
    res = []
    for lib in (ts, torch):
        x, y = a.make(lib, True)[0], b.make(lib, True)[0]
        try:
            out = lib.matmul(x, y)
        except RuntimeError:
            return
        g = np.random.default_rng(0).standard_normal(tuple(out.shape)).astype(np.float32)
        res.append(lib.autograd.grad(out, (x, y), lib.from_numpy(g)))
    for g, w in zip(*res):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-4)


@st.composite
def broadcast_pair(draw):
    n = draw(st.integers(0, 4))
    base = [draw(st.integers(0, 3)) for _ in range(n)]
    a = [draw(st.sampled_from([d, 1])) for d in base][draw(st.integers(0, n)):]
    b = [draw(st.sampled_from([d, 1])) for d in base][draw(st.integers(0, n)):]
    if draw(st.integers(0, 5)) == 0 and b:  # sometimes a clash
        b[-1] = b[-1] + 2
    return tuple(a), tuple(b)


BINOPS = [lambda L, x, y: x + y, lambda L, x, y: x - y, lambda L, x, y: x * y, lambda L, x, y: L.maximum(x, y),
          lambda L, x, y: x < y, lambda L, x, y: L.where(x > 0, x, y), lambda L, x, y: x / y]
DT = ["float32", "float64", "float16", "int64", "int8", "uint8", "int32"]


@SETTINGS
@given(broadcast_pair(), st.sampled_from(DT), st.sampled_from(DT), st.integers(0, len(BINOPS) - 1))
def test_broadcasting_binary_ops(shapes, da, db, op):
    sa, sb = shapes
    _run(BINOPS[op], T(sa, da, domain="pos"), T(sb, db, domain="pos"))


@SETTINGS
@given(broadcast_pair(), st.sampled_from([2, 2.5, -1, True, 1000]), st.sampled_from(DT + ["bool"]))
def test_tensor_with_python_scalar(shapes, scalar, dtype):
    sa, _ = shapes
    for fn in (lambda L, x: x + scalar, lambda L, x: x * scalar, lambda L, x: scalar * x, lambda L, x: x == scalar):
        _run(fn, T(sa, dtype))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
def test_integer_matmul_wraps_like_torch(dtype):
    rng = np.random.default_rng(3)
    lo, hi = (0, 255) if dtype == "uint8" else (-120, 120)
    a = rng.integers(lo, hi, (4, 300)).astype(dtype)
    b = rng.integers(lo, hi, (300, 5)).astype(dtype)
    got = ts.from_numpy(a) @ ts.from_numpy(b)
    want = torch.from_numpy(a) @ torch.from_numpy(b)
    assert_same(got, want)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_matmul_keeps_dtype_and_is_close(dtype):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((8, 64)).astype(np.float32), rng.standard_normal((64, 3)).astype(np.float32)
    got = ts.from_numpy(a).to(getattr(ts, dtype)) @ ts.from_numpy(b).to(getattr(ts, dtype))
    want = torch.from_numpy(a).to(getattr(torch, dtype)) @ torch.from_numpy(b).to(getattr(torch, dtype))
    assert_same(got, want, tol=4)
