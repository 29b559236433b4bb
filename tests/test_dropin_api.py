"""Drop-in API pieces against torch: legacy tensor types, storage views, ``type(t)``, grad assignment checks."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import tensorstein as ts

LEGACY = ["LongTensor", "FloatTensor", "DoubleTensor", "IntTensor", "BoolTensor", "ByteTensor", "HalfTensor",
          "BFloat16Tensor", "CharTensor", "ShortTensor", "Tensor"]


def _same(got, want):
    assert tuple(got.shape) == tuple(want.shape)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())


@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize("args", [([1, 0, 3],), ([[1.5, 2.0], [0.0, 3.0]],), ((1, 2),), ()])
def test_legacy_type_from_data_matches_torch(name, args):
    _same(getattr(ts, name)(*args), getattr(torch, name)(*args))


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_type_from_sizes_and_isinstance(name):
    for args in ((2, 3), (0,), (torch.Size([4]),)):
        want = getattr(torch, name)(*args)
        got = getattr(ts, name)(*(ts.Size(a) if isinstance(a, torch.Size) else a for a in args))
        assert tuple(got.shape) == tuple(want.shape) and got.dtype.name == str(want.dtype).split(".")[-1]
    if name != "Tensor":
        assert isinstance(ts.zeros(2, dtype=getattr(ts, name).dtype), getattr(ts, name))
        assert not isinstance(ts.zeros(2, dtype=ts.float64 if name != "DoubleTensor" else ts.float32),
                              getattr(ts, name))
        assert repr(getattr(ts, name)) == repr(getattr(torch, name)).replace("torch", "tensorstein")
        assert ts.zeros(2).type(getattr(ts, name)).dtype is getattr(ts, name).dtype


@pytest.mark.parametrize("call", [lambda L: L.LongTensor(2.5), lambda L: L.LongTensor("a"),
                                  lambda L: L.LongTensor(L.zeros(2)), lambda L: L.FloatTensor([1], [2]),
                                  lambda L: L.Tensor(1.5)])
def test_legacy_type_errors_match_torch(call):
    with pytest.raises(Exception) as want:
        call(torch)
    with pytest.raises(type(want.value)) as got:
        call(ts)
    assert str(got.value).splitlines()[0] == str(want.value).splitlines()[0]


def test_legacy_type_of_same_dtype_tensor_shares_it():
    t = ts.tensor([1, 2])
    assert ts.LongTensor(t).data_ptr() == t.data_ptr()


def test_storage_views_match_torch():
    import warnings
    warnings.simplefilter("ignore")
    for L in (ts, torch):
        x = L.arange(12, dtype=L.float32).reshape(3, 4)[1:, 1:3]
        s, u = x.storage(), x.untyped_storage()
        rows = (len(s), s.size(), s.tolist(), s.nbytes(), s.element_size(), s[5], s[-1], len(u), u.nbytes(),
                u[4], u.tolist()[:8], x.storage_offset(), x.nbytes, x.itemsize, x.element_size(),
                s.data_ptr() == u.data_ptr(), x.data_ptr() - s.data_ptr(), str(s.dtype).split(".")[-1])
        if L is ts:
            got = rows
        else:
            want = rows
    assert got == want
    y = ts.arange(4.0)
    y.storage()[1] = 9.0
    assert y.tolist() == [0.0, 9.0, 2.0, 3.0]
    half = ts.arange(3, dtype=ts.bfloat16).storage()
    assert half.tolist() == [0.0, 1.0, 2.0] and half.element_size() == 2
    assert repr(ts.tensor([1.0, 2.0]).storage()) == repr(torch.tensor([1.0, 2.0]).storage()).replace(
        "torch", "tensorstein")


def test_views_share_one_storage_and_type_prints_like_torch():
    x = ts.zeros(4, 5)
    assert x[1:].storage().data_ptr() == x.storage().data_ptr() == x.t().untyped_storage().data_ptr()
    assert x.clone().storage().data_ptr() != x.storage().data_ptr()
    assert str(type(x)) == "<class 'tensorstein.Tensor'>" and ts.Tensor is type(x)
    y = pickle.loads(pickle.dumps(ts.ones(2, requires_grad=True)))
    assert type(y) is ts.Tensor and y.requires_grad and y.tolist() == [1.0, 1.0]
    assert copy.deepcopy(x).shape == x.shape


@pytest.mark.parametrize("value", [0.0, 1, "g", [1.0], np.zeros((2, 3), np.float32)])
def test_grad_assignment_rejects_non_tensors_like_torch(value):
    with pytest.raises(TypeError) as want:
        torch.zeros(2, 3).grad = value
    with pytest.raises(TypeError) as got:
        ts.zeros(2, 3).grad = value
    assert str(got.value) == str(want.value).replace("numpy.ndarray", "ndarray")


@pytest.mark.parametrize("make", [lambda L: L.zeros(2, 3, dtype=L.float64), lambda L: L.zeros(3, 2),
                                  lambda L: L.zeros(3), lambda L: L.zeros(2, 3, dtype=L.int64)])
def test_grad_assignment_checks_dtype_and_size_like_torch(make):
    with pytest.raises(RuntimeError) as want:
        torch.zeros(2, 3).grad = make(torch)
    with pytest.raises(RuntimeError) as got:
        ts.zeros(2, 3).grad = make(ts)
    assert str(got.value) == str(want.value)


def test_grad_assignment_accepts_matching_tensors_and_none():
    w = ts.zeros(2, 3, requires_grad=True)
    w.grad = ts.ones(2, 3)
    assert w.grad.tolist() == [[1.0] * 3] * 2
    (w * 2).sum().backward()
    assert w.grad.tolist() == [[3.0] * 3] * 2
    w.grad = None
    assert w.grad is None
    del w.grad
    assert w.grad is None
