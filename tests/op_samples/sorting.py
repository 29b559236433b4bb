"""Samples for the sorting and order-statistic ops (``_ops/sorting.py``) and for ``index_fill``."""
from __future__ import annotations

import numpy as np

from ._infra import OpInfo, S, T


def _x(*shape, dtype="float32", layout=None):
    return T(shape, dtype, layout=layout)


def _a(values, dtype="float32", grad=True):
    return T(np.array(values), dtype, grad=grad)


def _sorting_ops():
    ops: list[OpInfo] = []
    ties = _a([[3.0, 1.0, 3.0, np.nan, 1.0], [2.0, 2.0, 0.0, 5.0, 2.0]])
    ints = _a([[4, 1, 4, 2], [0, 0, 3, 3]], "int64", grad=False)
    distinct = _a([[4, 1, 7, 2], [0, 5, 3, 6]], "int64", grad=False)  # ties pick an unspecified index in torch

    def add(name, fn, samples, grad=True):
        ops.append(OpInfo(name, fn, samples, grad=grad))

    add("sort", lambda L, a, **k: L.sort(a, **k),
        [S(_x(3, 4)), S(_x(3, 4, layout="T"), dim=0, descending=True), S(ties, stable=True),
         S(ties, descending=True, stable=True), S(ints, dim=1), S(_x(4, dtype="float64")), S(_x(3, dtype="bfloat16"))])
    add("Tensor.sort", lambda L, a, **k: a.sort(**k), [S(_x(2, 5), dim=0)])
    add("argsort", lambda L, a, **k: L.argsort(a, **k),
        [S(_x(3, 4)), S(ties, descending=True, stable=True), S(ints, dim=0, stable=True)], grad=False)
    add("msort", lambda L, a: L.msort(a), [S(_x(4, 3)), S(ints)])
    add("topk", lambda L, a, k, **kw: L.topk(a, k, **kw),
        [S(_x(3, 6), 2), S(_x(3, 6), 3, dim=0, largest=False), S(_x(5), 5), S(ints, 2), S(_x(3), 4),
         S(_x(2, 4, layout="T"), 1)])
    add("kthvalue", lambda L, a, k, **kw: L.kthvalue(a, k, **kw),
        [S(_x(3, 5), 2), S(_x(3, 5), 1, dim=0, keepdim=True), S(distinct, 3), S(_x(3), 0)])
    add("median", lambda L, a, *args, **kw: L.median(a, *args, **kw),
        [S(_x(3, 5)), S(_x(3, 5), 1), S(_x(4, 3), 0, keepdim=True), S(ints, 1),
         S(_a([[1.0, np.nan, 3.0], [2.0, 0.0, 1.0]]), 1)])
    add("nanmedian", lambda L, a, *args, **kw: L.nanmedian(a, *args, **kw),
        [S(_a([[1.0, np.nan, 3.0], [2.0, 0.0, 1.0]]), 1), S(_a([1.0, np.nan, 3.0, 4.0]))])
    add("mode", lambda L, a, *args, **kw: L.mode(a, *args, **kw),
        [S(ints), S(ints, 0), S(_a([[1.0, 2.0, 2.0, 1.0, 3.0]])), S(_a([[2.0, 2.0, 1.0]]), keepdim=True)])
    add("unique", lambda L, a, **kw: L.unique(a, **kw),
        [S(ints), S(ints, return_inverse=True, return_counts=True), S(ints, dim=1, return_counts=True),
         S(_a([3.0, 1.0, 3.0, 2.0]), return_inverse=True)], grad=False)
    add("unique_consecutive", lambda L, a, **kw: L.unique_consecutive(a, **kw),
        [S(_a([1, 1, 2, 2, 3, 1, 1, 2], "int64")), S(_a([1, 1, 2, 2, 3, 1], "int64"), return_inverse=True,
                                                        return_counts=True), S(ints, dim=0)], grad=False)
    idx = _a([0, 2, 0], "int64", grad=False)
    add("index_fill", lambda L, a, d, i, v: L.index_fill(a, d, i, v),
        [S(_x(3, 4), 1, idx, -1.5), S(_x(3, 4), 0, _a(1, "int64", grad=False), 2.0), S(_x(3, 4), 1, idx, _x()),
         S(_x(3, 4), -1, _a([-1], "int64", grad=False), 0.0), S(ints, 0, _a([1], "int64", grad=False), 2.7),
         S(_x(3, 4), 1, _a([5], "int64", grad=False), 0.0), S(_x(3, 4), 1, _a([0.0], "float32", grad=False), 0.0),
         S(_x(3, 4), 1, _a([[0]], "int64", grad=False), 0.0), S(_x(3, 4), 1, idx, _x(2)), S(_x(3, 4), 2, idx, 0.0)])
    add("Tensor.index_fill_", lambda L, a, d, i, v: a.clone().index_fill_(d, i, v), [S(_x(3, 4), 1, idx, -1.5)])
    return ops
