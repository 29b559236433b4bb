"""Sorting and order statistics: sort, argsort, msort, topk, kthvalue, median, nanmedian, mode, unique.

Orders follow torch: NaN sorts as the largest value, ``stable=True`` keeps equal elements in input order, and
ties in kthvalue/median pick the element a stable sort puts at that rank. Values carry gradients back to the
positions they came from.

>>> import tensorstein as torch
>>> torch.sort(torch.tensor([3.0, 1.0, 2.0]))
tensorstein.return_types.sort(
values=tensor([1., 2., 3.]),
indices=tensor([1, 2, 0]))
"""
from __future__ import annotations

import numpy as np

from .. import _dtype as D
from .._autograd.graph import attach, needs_grad, node_type
from .._tensor import Tensor, _wrap_dim
from ._common import return_type
from ._registry import register


SortResult, TopkResult = return_type("sort"), return_type("topk")
KthvalueResult, MedianResult, ModeResult = return_type("kthvalue"), return_type("median"), return_type("mode")
_HALF = (np.dtype(np.float16), D.bfloat16.np)


def _sortable(x: np.ndarray) -> np.ndarray:
    """The array NumPy sorts in torch's order (half precision through float32)."""
    return x.astype(np.float32) if x.dtype in _HALF else x


def _argsort(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort along ``axis``; descending keeps equal elements in input order, NaN first."""
    xs = _sortable(x)
    if not descending:
        return np.argsort(xs, axis=axis, kind="stable")
    n = x.shape[axis]
    flipped = np.argsort(np.flip(xs, axis), axis=axis, kind="stable")
    return (n - 1) - np.flip(flipped, axis)


def _gather_grad(values: Tensor, input: Tensor, indices: np.ndarray, d: int, keepdim: bool, node_name: str):
    """Record ``values = input.gather(d, indices)``: the gradient goes back to the gathered positions."""
    if not needs_grad(input):
        return values
    shape = input._data.shape
    index = Tensor._make(indices if keepdim or not shape else np.expand_dims(indices, d))

    def backward(g):
        if not shape:
            return (g,)
        gk = g if keepdim else g.unsqueeze(d)
        return (gk.new_zeros(shape).scatter_add(d, index, gk),)

    return attach(values, node_type(node_name), backward, (input,))


def _along(input, dim):
    x = input._data
    return x, _wrap_dim(dim, x.ndim)


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    """Sorted values and their indices along ``dim`` (``stable`` is always honoured)."""
    x, d = _along(input, dim)
    if x.ndim == 0:
        return SortResult(_gather_grad(Tensor._make(x.copy()), input, np.zeros((), np.int64), 0, True,
                                       "SortBackward0"), Tensor._make(np.zeros((), np.int64)))
    idx = _argsort(x, d, descending)
    values = Tensor._make(np.take_along_axis(x, idx, d))
    return SortResult(_gather_grad(values, input, idx, d, True, "SortBackward0"), Tensor._make(idx.astype(np.int64)))


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    """The indices that sort ``input`` along ``dim``."""
    x, d = _along(input, dim)
    if x.ndim == 0:
        return Tensor._make(np.zeros((), np.int64))
    return Tensor._make(_argsort(x, d, descending).astype(np.int64))


def msort(input):
    """``sort(input, dim=0).values``."""
    return sort(input, 0).values


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices, largest first."""
    x, d = _along(input, dim)
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    if x.ndim == 0:
        return TopkResult(*sort(input))
    idx = np.take(_argsort(x, d, largest), np.arange(k), axis=d)
    values = Tensor._make(np.take_along_axis(x, idx, d))
    return TopkResult(_gather_grad(values, input, idx, d, True, "TopkBackward0"), Tensor._make(idx.astype(np.int64)))


def _rank(input, rank_of, dim, keepdim, name, node_name, result_cls):
    """Value at a rank along ``dim`` chosen by ``rank_of(sorted_along_dim, n)`` (an int array, keepdims)."""
    x, d = _along(input, dim)
    if x.ndim == 0:
        return result_cls(_gather_grad(Tensor._make(x.copy()), input, np.zeros((), np.int64), 0, True, node_name),
                          Tensor._make(np.zeros((), np.int64)))
    if x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    order = _argsort(x, d, False)
    sorted_x = np.take_along_axis(x, order, d)
    pos = rank_of(sorted_x, d)
    idx = np.take_along_axis(order, pos, d)
    vals = np.take_along_axis(x, idx, d)
    if not keepdim:
        idx, vals = np.squeeze(idx, d), np.squeeze(vals, d)
    values = _gather_grad(Tensor._make(vals), input, idx, d, keepdim, node_name)
    return result_cls(values, Tensor._make(idx.astype(np.int64)))


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False):
    """The ``k``-th smallest value (1-based) along ``dim`` and its index."""
    x, d = _along(input, dim)
    n = x.shape[d] if x.ndim else 1
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")

    def rank_of(sorted_x, axis):
        shape = list(sorted_x.shape)
        shape[axis] = 1
        return np.full(shape, k - 1, np.int64)

    return _rank(input, rank_of, dim, keepdim, "kthvalue", "KthvalueBackward0", KthvalueResult)


def _median_rank(skip_nan: bool):
    def rank_of(sorted_x, axis):
        n = sorted_x.shape[axis]
        valid = (~np.isnan(_sortable(sorted_x))).sum(axis=axis, keepdims=True) if sorted_x.dtype.kind in "fV" \
            else np.full([1 if a == axis else s for a, s in enumerate(sorted_x.shape)], n)
        if not skip_nan:  # any NaN makes the median NaN: point at the first NaN (NaNs sort last)
            return np.where(valid < n, valid, (n - 1) // 2).astype(np.int64)
        return np.where(valid > 0, (valid - 1) // 2, 0).astype(np.int64)

    return rank_of


def _median(input, dim, keepdim, skip_nan, name):
    if input._data.dtype == np.bool_:
        raise NotImplementedError(f"\"median_{'cpu' if dim is None else 'out'}\" not implemented for 'Bool'")
    if dim is None:
        flat = input.reshape(-1)
        if flat._data.size == 0:
            return Tensor._make(np.full((), np.nan, input._data.dtype))
        values = _rank(flat, _median_rank(skip_nan), 0, False, name, f"{name.capitalize()}Backward0",
                       MedianResult).values
        return values
    return _rank(input, _median_rank(skip_nan), dim, keepdim, name, f"{name.capitalize()}Backward1", MedianResult)


def median(input, dim=None, keepdim: bool = False):
    """The lower median (of all elements, or along ``dim`` with its index); NaN if any element is NaN."""
    return _median(input, dim, keepdim, False, "median")


def nanmedian(input, dim=None, keepdim: bool = False):
    """The lower median ignoring NaN."""
    return _median(input, dim, keepdim, True, "nanmedian")


def mode(input, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` (the smallest among ties) and the index of its last occurrence."""
    def rank_of(sorted_x, axis):
        # the end of the longest run of equal values in sorted order; the first (smallest) run wins ties,
        # and a run's end is the value's last occurrence in the input (the sort is stable)
        moved = np.moveaxis(_sortable(sorted_x), axis, -1)
        n = moved.shape[-1]
        pos = np.arange(n)
        starts = np.ones(moved.shape, bool)
        starts[..., 1:] = moved[..., 1:] != moved[..., :-1]
        if moved.dtype.kind == "f":  # NaNs count as one value, as in torch
            starts[..., 1:] &= ~(np.isnan(moved[..., 1:]) & np.isnan(moved[..., :-1]))
        ends = np.ones(moved.shape, bool)
        ends[..., :-1] = starts[..., 1:]
        run_start = np.maximum.accumulate(np.where(starts, pos, 0), axis=-1)
        length_at_end = np.where(ends, pos - run_start + 1, 0)
        return np.moveaxis(np.argmax(length_at_end, axis=-1)[..., None], -1, axis)

    return _rank(input, rank_of, dim, keepdim, "mode", "ModeBackward0", ModeResult)


def unique(input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values (sorted, as torch's CPU kernel always returns them), optionally with the inverse
    indices and the counts; with ``dim``, the distinct slices along it."""
    x = input._data
    if dim is not None:
        d = _wrap_dim(dim, x.ndim)
        if any(n == 0 for i, n in enumerate(x.shape) if i != d):
            raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot be applied")
        vals, inverse, counts = np.unique(_sortable(x), return_inverse=True, return_counts=True, axis=d)
        vals = vals.astype(x.dtype, copy=False)
        inverse = inverse.reshape(-1)
    else:
        vals, inverse, counts = np.unique(_sortable(x).reshape(-1), return_inverse=True, return_counts=True,
                                         equal_nan=False)  # each NaN is its own value, as in torch
        vals = vals.astype(x.dtype, copy=False)
        inverse = inverse.reshape(x.shape)
    out = [Tensor._make(vals)]
    if return_inverse:
        out.append(Tensor._make(inverse.astype(np.int64)))
    if return_counts:
        out.append(Tensor._make(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """Collapse runs of equal consecutive values (or slices along ``dim``)."""
    x = input._data
    if dim is not None and sum(n == 0 for n in x.shape) > 1:
        raise RuntimeError("Number of zero sized dimensions is more than one, so unique cannot be applied")
    moved = x.reshape(-1) if dim is None else np.moveaxis(x, _wrap_dim(dim, x.ndim), 0)
    n = moved.shape[0]
    if n == 0:
        starts = np.zeros(0, bool)
    else:
        flat = moved.reshape(n, -1)
        starts = np.ones(n, bool)
        starts[1:] = (flat[1:] != flat[:-1]).any(axis=1)
    keep = np.flatnonzero(starts)
    vals = moved[keep]
    if dim is not None:
        vals = np.moveaxis(vals, 0, _wrap_dim(dim, x.ndim))
    out = [Tensor._make(np.ascontiguousarray(vals))]
    if return_inverse:
        inverse = np.cumsum(starts) - 1
        out.append(Tensor._make(inverse.reshape(x.shape if dim is None else (n,)).astype(np.int64)))
    if return_counts:
        out.append(Tensor._make(np.diff(np.append(keep, n)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


register(sort, topk, kthvalue, median, nanmedian, mode, returns="Any")
register(argsort, msort)
register(unique, unique_consecutive, returns="Any")
