"""Extremes: ``max`` / ``min`` (with ``dim``: values and indices), ``amax`` / ``amin``, ``argmax`` / ``argmin``.

Float32/float64 reductions over the last dim (or all elements) run on the row kernels of ``_kernels/reduce.py``
(first index of the extreme; a NaN wins, as torch), their backward too; NumPy is the general path.

>>> max(tensor([[1.0, 3.0], [4.0, 2.0]]), dim=1)
tensorstein.return_types.max(
values=tensor([3., 4.]),
indices=tensor([1, 0]))
"""
from __future__ import annotations

import builtins

import numpy as np

from .._autograd.grad_mode import grad_enabled
from .._autograd.graph import attach, needs_grad, node_type
from .._kernels.lazy import PARALLEL_MIN, kernels
from .._kernels.parallel import get_num_threads
from .._tensor import Tensor, _wrap_dim
from ._common import HALF as _HALF, entry, return_type, rows_view
from ._registry import register
from .comparison import logical_or
from .elementwise import maximum, minimum
from .indexing import scatter_grad
from .reduction import _F32, _F64, _KERNEL_MIN, _kernel_reduces, expand_grad, normalize_dims, sum
from .unary import isnan

MaxResult, MinResult = return_type("max"), return_type("min")


def _extreme(input, dim, keepdim, np_arg, np_red, name, result_cls):
    x = input._data
    if dim is None:
        if x.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                               "the reduction dim with the 'dim' argument.")
        res = Tensor._make(np.asarray(_nan_red(np_red, x, None, False)))
        if needs_grad(input):
            saved = res.detach()
            attach(res, node_type(f"{name.capitalize()}Backward1"),
                   lambda g: (_even_split(g, input, saved, None, True),), (input,), (input, saved))
        return res
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    d = _wrap_dim(dim, x.ndim)
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    dt = x.dtype
    if d == x.ndim - 1 and x.size and (dt is _F32 or dt is _F64) and x.flags.c_contiguous:
        return _last_dim_extreme(input, keepdim, name, result_cls)
    xa = x.astype(np.float32) if x.dtype in _HALF else x
    idx = _nan_arg(np_arg, xa, d if x.ndim else None)
    idx = np.expand_dims(idx, d) if x.ndim else np.asarray(idx)
    vals = np.take_along_axis(x, idx, d) if x.ndim else x.copy()
    if not keepdim and x.ndim:
        idx, vals = np.squeeze(idx, d), np.squeeze(vals, d)
    values = Tensor._make(vals)
    indices = Tensor._make(idx.astype(np.int64))
    if needs_grad(input):
        shape = x.shape

        def backward(g):
            if not len(shape):
                return (g,)
            gi = g if keepdim or not len(shape) else g.unsqueeze(d)
            ii = indices if keepdim or not len(shape) else indices.unsqueeze(d)
            return (scatter_grad(gi, ii, d, shape),)

        attach(values, node_type(f"{name.capitalize()}Backward0"), backward, (input,))
    return result_cls(values, indices)


def _last_dim_extreme(input, keepdim, name, result_cls):
    """``max(dim=-1)`` / ``min(dim=-1)`` of a C-contiguous float32/float64 tensor: values and first indices in one
    kernel pass per row (a NaN wins), the backward one scatter of the gradient to the indices."""
    x = input._data
    x2 = rows_view(x)  # (R, C)
    shape = x.shape[:-1] + (1,) if keepdim else x.shape[:-1]
    if x.size < PARALLEL_MIN or get_num_threads() == 1:
        vals = np.empty(x2.shape[0], x.dtype)
        idx = np.empty(x2.shape[0], np.int64)
        entry("reduce._rows_ext_k", x.dtype, (2, 1, (1, np.int64), bool))(x2, vals, idx, name == "max")
    else:  # rows over the pool
        vals, idx = (a.reshape(-1) for a in kernels("reduce").max_dim(x, -1, False, name == "max"))
    values, indices = Tensor._make(vals.reshape(shape)), Tensor._make(idx.reshape(shape))
    if input.requires_grad and grad_enabled():
        def backward(g):
            if grad_enabled() or g._data.dtype != x.dtype:  # create_graph: differentiable ops
                return (scatter_grad(g if keepdim else g.unsqueeze(-1), indices if keepdim else indices.unsqueeze(-1),
                                     x.ndim - 1, x.shape),)
            out = np.zeros(x.shape, x.dtype)
            entry("reduce._rows_scatter_k", x.dtype, ((1, np.int64), 1, 2))(
                idx, np.ascontiguousarray(g._data).reshape(-1), out.reshape(x2.shape))
            return (Tensor._make(out),)

        attach(values, node_type(f"{name.capitalize()}Backward0"), backward, (input,))
    return result_cls(values, indices)


def _nan_red(np_red, x, axis, keepdims):
    xa = x.astype(np.float32) if x.dtype in _HALF else x
    out = np_red(xa, axis=axis, keepdims=keepdims)  # np.max / np.min propagate NaN like torch
    return np.asarray(out).astype(x.dtype, copy=False)


def _nan_arg(np_arg, x, axis):
    if x.dtype.kind == "f":
        nan = np.isnan(x)
        if nan.any():
            # torch returns the index of the first NaN
            first_nan = np.argmax(nan, axis=axis)
            has_nan = np.any(nan, axis=axis)
            return np.where(has_nan, first_nan, np_arg(np.where(nan, 0, x), axis=axis))
    return np_arg(x, axis=axis)


def _even_split(g, input, result, dims, keepdim, nan_wins=True):
    """Gradient of a full max/min (``nan_wins``: a NaN result sends it to the NaNs) or of amax/amin (torch's
    ``(g / count) * mask``: NaN for a NaN result): shared evenly among the elements equal to the result."""
    shape = input._data.shape
    r = expand_grad(result, shape, dims, keepdim) if dims is not None or result._data.ndim == 0 else result
    mask = (input == r)
    if nan_wins and input._data.dtype.kind == "f" and np.isnan(r._data).any():
        mask = logical_or(mask, isnan(input) & isnan(r))
    count = sum(mask, dim=dims, keepdim=True) if dims is not None else sum(mask)
    if not nan_wins:
        return expand_grad(g, shape, dims, keepdim) / count * mask
    return expand_grad(g, shape, dims, keepdim) * mask / count


def max(input, dim=None, keepdim: bool = False, *, out=None):
    """Largest value; with ``dim``, a ``(values, indices)`` named tuple. ``max(a, b)`` is ``maximum``."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return _extreme(input, dim, keepdim, np.argmax, np.max, "max", MaxResult)


def min(input, dim=None, keepdim: bool = False, *, out=None):
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return _extreme(input, dim, keepdim, np.argmin, np.min, "min", MinResult)


def _amax_amin(input, dim, keepdim, np_red, name):
    x = input._data
    dt = x.dtype
    if type(dim) is int and x.ndim and (dim == -1 or dim == x.ndim - 1) and x.size and (dt is _F32 or dt is _F64):
        return _rows_amax_amin(input, (x.ndim - 1,), keepdim, name)  # the common case, checked cheaply
    dims = normalize_dims(dim if dim != () else None, x.ndim)
    if x.size == 0 and dims is None:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           "reduction dim with the 'dim' argument.")
    if x.size == 0 and builtins.any(x.shape[d] == 0 for d in dims):
        raise IndexError(f"{name}(): Expected reduction dim {next(d for d in dims if x.shape[d] == 0)} to have "
                         "non-zero size.")
    if (dt is _F32 or dt is _F64) and x.size and (dims is None or dims == (x.ndim - 1,)):
        return _rows_amax_amin(input, dims, keepdim, name)
    if np_red is np.max and _kernel_reduces(x, dims, _KERNEL_MIN):
        res = Tensor._make(np.asarray(kernels("reduce").amax(x, None if dims is None else dims[0], keepdim)))
    else:
        res = Tensor._make(np.asarray(_nan_red(np_red, x, dims, keepdim)))
    if needs_grad(input):
        saved = res.detach()
        attach(res, node_type(f"{name.capitalize()}Backward0"),
               lambda g: (_even_split(g, input, saved, dims if dims is not None else tuple(range(x.ndim)), keepdim,
                                      False),),
               (input,), (input, saved))
    return res


def _rows_amax_amin(input, dims, keepdim, name):
    """amax / amin of a float32/float64 tensor over all elements or its last dim, by the row kernels; the
    backward (ties share the gradient evenly; a NaN result gives NaN, as torch) is one kernel pass too."""
    x = input._data
    x2 = x.ravel().reshape(1, -1) if dims is None else rows_view(x)  # (R, C) C-contiguous
    vals = np.empty(x2.shape[0], x.dtype)
    if name == "amin":
        entry("reduce._rows_ext_k", x.dtype, (2, 1, (1, np.int64), bool))(x2, vals, np.empty(len(vals), np.int64),
                                                                              False)
    elif x.size < PARALLEL_MIN or get_num_threads() == 1:
        (_ROWS_EP.get(x.dtype) or _ROWS_EP.setdefault(x.dtype, entry("reduce._rows_k", x.dtype, (2, 1, int))))(
            x2, vals, 2)
    else:  # over the pool
        vals = kernels("reduce").amax(x, None if dims is None else -1, False).reshape(-1)
    shape = ((1,) * x.ndim if keepdim else ()) if dims is None else (x.shape[:-1] + (1,) if keepdim else x.shape[:-1])
    res = Tensor._make(vals if vals.shape == shape else vals.reshape(shape))
    if input.requires_grad and grad_enabled():
        all_dims = dims if dims is not None else tuple(range(x.ndim))
        saved = res.detach()

        def backward(g):
            if grad_enabled() or g._data.dtype != x.dtype:  # create_graph: differentiable ops
                return (_even_split(g, input, saved, all_dims, keepdim, False),)
            out = np.empty(x2.shape, x.dtype)
            entry("reduce._rows_split_bk", x.dtype, (2, 1, 1, 2))(x2, vals,
                                                                   np.ascontiguousarray(g._data).reshape(-1), out)
            return (Tensor._make(out.reshape(x.shape)),)

        attach(res, node_type(f"{name.capitalize()}Backward0"), backward, (input,), (input, saved))
    return res


_ROWS_EP: dict = {}


def amax(input, dim=(), keepdim: bool = False):
    return _amax_amin(input, dim, keepdim, np.max, "amax")


def amin(input, dim=(), keepdim: bool = False):
    return _amax_amin(input, dim, keepdim, np.min, "amin")


def argmax(input, dim=None, keepdim: bool = False):
    return _arg(input, dim, keepdim, np.argmax, "argmax")


def argmin(input, dim=None, keepdim: bool = False):
    return _arg(input, dim, keepdim, np.argmin, "argmin")


def _arg(input, dim, keepdim, np_arg, name):
    x = input._data
    if x.dtype == np.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    if x.size == 0 and dim is None:
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
    if x.size == 0 and x.ndim and x.shape[_wrap_dim(dim, x.ndim)] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {_wrap_dim(dim, x.ndim)} to have non-zero size.")
    xa = x.astype(np.float32) if x.dtype in _HALF else x
    if dim is None:
        idx = np.asarray(_nan_arg(np_arg, xa.reshape(-1), 0))
        if keepdim:
            idx = idx.reshape((1,) * x.ndim)
        return Tensor._make(idx.astype(np.int64))
    d = _wrap_dim(dim, x.ndim)
    idx = _nan_arg(np_arg, xa, d if x.ndim else None)
    if keepdim and x.ndim:
        idx = np.expand_dims(idx, d)
    return Tensor._make(np.asarray(idx).astype(np.int64))


register(amax, amin, argmax, argmin)
register(max, returns="Any")
register(min, returns="Any")
