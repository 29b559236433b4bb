"""Tensor basics against torch: metadata, conversions, repr, dtypes, devices and creation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorstein as ts
from op_samples import ALL, assert_same, dtype_name

DTYPES = ALL


def _pair(arr, dtype=None):
    a, b = ts.from_numpy(arr.copy()), torch.from_numpy(arr.copy())
    if dtype:
        a, b = a.to(getattr(ts, dtype)), b.to(getattr(torch, dtype))
    return a, b


# ---------------------------------------------------------------- metadata
def test_shape_is_size_with_torch_like_repr():
    t = ts.zeros(3, 4)
    assert isinstance(t.shape, ts.Size) and isinstance(t.shape, tuple)
    assert repr(t.shape) == "tensorstein.Size([3, 4])" == repr(torch.zeros(3, 4).shape).replace("torch", "tensorstein")
    assert str(t.shape) == "tensorstein.Size([3, 4])"
    assert t.size() == (3, 4) and t.size(1) == 4 and t.size(-2) == 3
    assert t.shape[1:] == ts.Size([4]) and isinstance(t.shape[1:], ts.Size)
    assert t.shape.numel() == 12
    assert repr(ts.zeros(()).shape) == "tensorstein.Size([])"
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.size(2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_metadata_matches_torch(dtype):
    a, b = _pair(np.arange(24).reshape(2, 3, 4) % 3, dtype)
    assert dtype_name(a.dtype) == dtype_name(b.dtype) == dtype
    assert repr(a.dtype) == repr(b.dtype).replace("torch", "tensorstein")
    assert a.ndim == b.ndim == a.dim() == 3
    assert a.numel() == b.numel() == a.nelement() == 24
    assert a.element_size() == b.element_size()
    assert a.is_floating_point() == b.is_floating_point()
    assert a.dtype.is_floating_point == b.dtype.is_floating_point
    assert a.dtype.is_signed == b.dtype.is_signed
    assert a.is_contiguous() and not a.transpose(0, 2).is_contiguous()
    assert a.stride() == b.stride() and a.transpose(0, 2).stride() == b.transpose(0, 2).stride()
    assert len(a) == len(b) == 2
    assert str(a.device) == str(b.device) == "cpu" and a.device.type == "cpu"


@pytest.mark.parametrize("dtype", DTYPES)
def test_item_tolist_and_python_conversions(dtype):
    arr = np.array([[1.5, -2.0, 0.0], [3.25, 7.0, -0.5]])
    a, b = _pair(arr, dtype)
    assert a.tolist() == b.tolist()
    assert type(a[0, 0].item()) is type(b[0, 0].item()) and a[0, 0].item() == b[0, 0].item()
    assert a[1, 0].tolist() == b[1, 0].tolist()
    x, y = a[1, 1], b[1, 1]
    assert float(x) == float(y) and int(x) == int(y) and bool(x) == bool(y)
    if dtype in ("int8", "int16", "int32", "int64", "uint8", "bool"):
        assert [10, 20, 30, 40, 50, 60, 70, 80][x] == [10, 20, 30, 40, 50, 60, 70, 80][y]  # __index__
        assert x.__index__() == y.__index__()
    else:
        with pytest.raises(TypeError):
            [0][x]


def test_item_and_bool_errors_match_torch():
    for fn in (lambda t: t.item(), lambda t: bool(t)):
        errs = []
        for lib in (ts, torch):
            with pytest.raises(RuntimeError) as info:
                fn(lib.ones(3))
            errs.append(str(info.value).split("\n")[0])
        assert errs[0] == errs[1]


def test_numpy_is_zero_copy_both_ways():
    t = ts.zeros(2, 3)
    n = t.numpy()
    n[0, 1] = 5
    assert t[0, 1].item() == 5
    t[1, 2] = 7
    assert n[1, 2] == 7
    arr = np.arange(6.0).reshape(2, 3)
    u = ts.from_numpy(arr)
    arr[0, 0] = -1
    assert u[0, 0].item() == -1 and u.dtype == ts.float64
    u.add_(1)
    assert arr[0, 0] == 0
    assert np.shares_memory(np.asarray(u), arr)
    v = ts.as_tensor(arr)
    assert np.shares_memory(v.numpy(), arr)
    w = ts.tensor(arr)
    assert not np.shares_memory(w.numpy(), arr)


def test_array_protocol_and_dlpack():
    t = ts.arange(6, dtype=ts.float32).reshape(2, 3)
    assert np.asarray(t).dtype == np.float32 and np.array_equal(np.asarray(t), np.arange(6).reshape(2, 3))
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    d = np.from_dlpack(t)
    assert np.array_equal(d, t.numpy())
    d2 = np.from_dlpack(ts.arange(4))
    assert d2.dtype == np.int64
    # torch can read tensorstein tensors through DLPack too
    tt = torch.from_dlpack(t)
    assert torch.equal(tt, torch.arange(6, dtype=torch.float32).reshape(2, 3))


def test_len_iteration_and_unpacking():
    a, b = _pair(np.arange(12).reshape(3, 4))
    assert [r.tolist() for r in a] == [r.tolist() for r in b]
    x, y, z = a
    assert z.tolist() == b[2].tolist()
    for lib in (ts, torch):
        with pytest.raises(TypeError):
            len(lib.tensor(1.0))
        with pytest.raises(TypeError):
            iter(lib.tensor(1.0))


REPR_CASES = [
    lambda L: L.tensor([1.0, 2.5, -3.0]),
    lambda L: L.tensor([[1, 2], [3, 4]]),
    lambda L: L.tensor([True, False]),
    lambda L: L.zeros(2, 3, dtype=L.float64),
    lambda L: L.tensor([1.5, 2.0], dtype=L.float16),
    lambda L: L.tensor([1.5, 2.0], dtype=L.bfloat16),
    lambda L: L.tensor([1, 2], dtype=L.int8),
    lambda L: L.tensor([1, 2], dtype=L.uint8),
    lambda L: L.tensor(3.5),
    lambda L: L.tensor([]),
    lambda L: L.zeros(0, 3),
    lambda L: L.tensor([1e-8, 1e8]),
    lambda L: L.tensor([float("nan"), float("inf"), 1.0]),
    lambda L: L.tensor([1.0, 2.0], requires_grad=True),
    lambda L: L.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda L: L.tensor([[1.0, 2.0]], requires_grad=True).sum(),
    lambda L: L.arange(2000.0),
]


@pytest.mark.parametrize("make", REPR_CASES)
def test_repr_like_torch(make):
    assert repr(make(ts)).replace("tensorstein", "torch") == repr(make(torch))


# ---------------------------------------------------------------- dtypes
def test_dtype_aliases_and_info():
    assert ts.float is ts.float32 and ts.double is ts.float64 and ts.half is ts.float16
    assert ts.long is ts.int64 and ts.int is ts.int32 and ts.short is ts.int16
    for d in ("int8", "int16", "int32", "int64", "uint8"):
        a, b = ts.iinfo(getattr(ts, d)), torch.iinfo(getattr(torch, d))
        assert (a.min, a.max, a.bits) == (b.min, b.max, b.bits)
    for d in ("float16", "bfloat16", "float32", "float64"):
        a, b = ts.finfo(getattr(ts, d)), torch.finfo(getattr(torch, d))
        for f in ("eps", "max", "min", "tiny", "bits", "resolution"):
            assert getattr(a, f) == getattr(b, f), (d, f)
    with pytest.raises(TypeError):
        ts.iinfo(ts.float32)


def test_default_dtype_roundtrip():
    assert ts.get_default_dtype() is ts.float32
    ts.set_default_dtype(ts.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for make in (lambda L: L.tensor([1.0]), lambda L: L.zeros(2), lambda L: L.arange(0.0, 1.0, 0.5),
                     lambda L: L.tensor([1, 2]) / 2, lambda L: L.tensor(1) * 2.5, lambda L: L.rand(2)):
            assert dtype_name(make(ts).dtype) == dtype_name(make(torch).dtype) == "float64"
    finally:
        torch.set_default_dtype(torch.float32)
        ts.set_default_dtype(ts.float32)
    assert ts.tensor([1.0]).dtype is ts.float32


@pytest.mark.parametrize("src", DTYPES)
def test_casts_match_torch(src):
    arr = np.array([-2.7, -0.5, 0.0, 0.49, 1.5, 126.9, 300.0])
    a, b = _pair(arr, src if src != "float32" else None)
    casts = [lambda t: t.float(), lambda t: t.double(), lambda t: t.half(), lambda t: t.bfloat16(),
             lambda t: t.long(), lambda t: t.int(), lambda t: t.bool(), lambda t: t.short(), lambda t: t.byte(),
             lambda t: t.char()]
    for c in casts:
        assert_same(c(a), c(b))
    for d in DTYPES:
        if d == "uint8" and src in ("float32", "float64", "float16", "bfloat16"):
            continue  # negative float -> uint8 is undefined behaviour in C
        if d in ("int8",) and src in ("float32", "float64", "float16", "bfloat16"):
            continue  # 300.0 -> int8 overflows: undefined in C
        assert_same(a.to(getattr(ts, d)), b.to(getattr(torch, d)))
        assert_same(a.type_as(ts.zeros(1, dtype=getattr(ts, d))), b.type_as(torch.zeros(1, dtype=getattr(torch, d))))


def test_to_same_dtype_returns_self_and_copy():
    t = ts.ones(3)
    assert t.to(ts.float32) is t and t.to("cpu") is t and t.cpu() is t
    assert t.to(ts.float32, copy=True) is not t


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("b", DTYPES)
def test_promote_types_matches_torch(a, b):
    assert dtype_name(ts.promote_types(getattr(ts, a), getattr(ts, b))) == \
        dtype_name(torch.promote_types(getattr(torch, a), getattr(torch, b)))


@pytest.mark.parametrize("case", [
    lambda L: (L.tensor([1], dtype=L.int32), 2.5),
    lambda L: (L.tensor([1], dtype=L.uint8), L.tensor([1], dtype=L.int8)),
    lambda L: (L.tensor([1], dtype=L.int8), 1000), lambda L: (L.tensor([1.0], dtype=L.float16), 2.5),
    lambda L: (L.tensor(1.0, dtype=L.float64), L.tensor([1.0])), lambda L: (L.tensor([True]), 2),
    lambda L: (L.tensor([True]), 2.5), lambda L: (L.tensor(1, dtype=L.int64), L.tensor([1], dtype=L.int8)),
    lambda L: (L.tensor(1.0), L.tensor([1], dtype=L.int8)), lambda L: (3, 4.5), lambda L: (True, 2),
    lambda L: (L.tensor([1.0], dtype=L.bfloat16), L.tensor([1.0], dtype=L.float16)),
    lambda L: (L.tensor([1.0], dtype=L.bfloat16), 2.0),
])
def test_result_type_matches_torch(case):
    assert dtype_name(ts.result_type(*case(ts))) == dtype_name(torch.result_type(*case(torch)))


# ---------------------------------------------------------------- devices
def test_devices():
    d = ts.device("cpu")
    assert d.type == "cpu" and str(d) == "cpu" and d == ts.device("cpu")
    t = ts.ones(2, device="cpu")
    assert t.device == d and t.to("cpu") is t and t.to(d) is t and t.cpu() is t and not t.is_cuda
    assert ts.cuda.is_available() is False
    assert ts.ones(2).to("cpu", ts.float64).dtype is ts.float64
    for make in (lambda: ts.ones(2).to("cuda"), lambda: ts.zeros(2, device="cuda")):
        with pytest.raises(AssertionError, match="^Torch not compiled with CUDA enabled$"):  # torch's error
            make()
    with pytest.raises(RuntimeError, match="tensorstein computes on the CPU only"):
        ts.zeros(2, device="xpu")


# ---------------------------------------------------------------- creation
CREATE = [
    lambda L: L.tensor([[1, 2], [3, 4]]), lambda L: L.tensor([1.0, 2]), lambda L: L.tensor([True, False]),
    lambda L: L.tensor(5), lambda L: L.tensor([1, 2], dtype=L.float16), lambda L: L.tensor([[1.5]], dtype=L.int32),
    lambda L: L.tensor([]), lambda L: L.as_tensor([1, 2, 3], dtype=L.float64),
    lambda L: L.zeros(2, 3), lambda L: L.zeros((2, 3), dtype=L.int8), lambda L: L.ones(4, dtype=L.bool),
    lambda L: L.full((2, 2), 7), lambda L: L.full((2, 2), 7.5), lambda L: L.full((2,), True),
    lambda L: L.zeros_like(L.ones(2, 3, dtype=L.int16)), lambda L: L.ones_like(L.ones(2), dtype=L.float64),
    lambda L: L.full_like(L.ones(2, dtype=L.int32), 3.7), lambda L: L.empty(2, 3).shape,
    lambda L: L.empty_like(L.ones(2, dtype=L.int8)).dtype,
    lambda L: L.arange(5), lambda L: L.arange(1, 4), lambda L: L.arange(0, 1, 0.25), lambda L: L.arange(5.0),
    lambda L: L.arange(0, 10, 3), lambda L: L.arange(10, 0, -2), lambda L: L.arange(5, dtype=L.float32),
    lambda L: L.linspace(0, 1, 5), lambda L: L.linspace(-1, 1, 1), lambda L: L.linspace(0, 10, 4, dtype=L.float64),
    lambda L: L.eye(3), lambda L: L.eye(2, 3), lambda L: L.eye(3, dtype=L.int64),
    lambda L: L.zeros(0), lambda L: L.ones(2, 0, 3),
]


@pytest.mark.parametrize("make", CREATE)
def test_creation_matches_torch(make):
    assert_same(make(ts), make(torch))


def test_random_creation_shapes_dtypes_and_ranges():
    ts.manual_seed(0)
    r = ts.rand(1000)
    assert r.dtype is ts.float32 and r.shape == (1000,) and 0 <= r.min().item() and r.max().item() < 1
    n = ts.randn(200, 50)
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    i = ts.randint(3, 7, (500,))
    assert i.dtype is ts.int64 and i.min().item() == 3 and i.max().item() == 6
    assert ts.randint(5, (2, 2), dtype=ts.int8).dtype is ts.int8
    p = ts.randperm(10)
    assert sorted(p.tolist()) == list(range(10)) and p.dtype is ts.int64
    assert ts.rand(2, 3, dtype=ts.float64).dtype is ts.float64
    assert ts.randn(()).shape == ()


def test_manual_seed_reproducible():
    ts.manual_seed(123)
    a = [ts.rand(3), ts.randn(2, 2), ts.randint(0, 100, (4,)), ts.randperm(6), ts.empty(5).normal_(),
         ts.empty(3).uniform_(-2, 2)]
    ts.manual_seed(123)
    b = [ts.rand(3), ts.randn(2, 2), ts.randint(0, 100, (4,)), ts.randperm(6), ts.empty(5).normal_(),
         ts.empty(3).uniform_(-2, 2)]
    for x, y in zip(a, b):
        assert np.array_equal(x.numpy(), y.numpy())
    ts.manual_seed(124)
    assert not np.array_equal(ts.rand(3).numpy(), a[0].numpy())


def test_inplace_initialisers():
    t = ts.empty(1000)
    assert t.normal_(2.0, 0.5) is t and abs(t.mean().item() - 2) < 0.1 and abs(t.std().item() - 0.5) < 0.1
    assert t.uniform_(-1, 3) is t and -1 <= t.min().item() and t.max().item() < 3
    assert t.zero_() is t and not t.any().item()
    assert t.fill_(2.5) is t and (t == 2.5).all().item()
    i = ts.zeros(3, dtype=ts.int32).fill_(2.7)
    j = torch.zeros(3, dtype=torch.int32).fill_(2.7)
    assert_same(i, j)
    assert ts.ones(2).fill_(ts.tensor(4.0)).tolist() == [4.0, 4.0]


def test_from_numpy_unsupported_dtype():
    with pytest.raises(TypeError, match="can't convert np.ndarray of type complex128"):
        ts.from_numpy(np.array([1 + 2j]))  # torch has complex tensors; tensorstein does not
    for lib in (ts, torch):
        with pytest.raises(TypeError):
            lib.from_numpy(np.array(["a"], dtype=object))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "int32",
                                   "int64", "bool"])
def test_legacy_type_name_and_conversion_match_torch(dtype):
    t_ts = ts.zeros(2, dtype=getattr(ts, dtype))
    t_torch = torch.zeros(2, dtype=getattr(torch, dtype))
    assert t_ts.type().replace("tensorstein.", "torch.") == t_torch.type()
    assert t_ts.type("torch.DoubleTensor").dtype.name == str(t_torch.type("torch.DoubleTensor").dtype)[6:]
    assert t_ts.type(ts.int16).dtype is ts.int16
