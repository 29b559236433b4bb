"""Tensor factories and dtype conversion (random sampling lives in ``random.py``).

>>> zeros(2, 3).shape
tensorstein.Size([2, 3])
"""
from __future__ import annotations

import math

import numpy as np

from .. import _dtype as D
from .._autograd.grad_mode import grad_enabled
from .._autograd.graph import attach, node_type
from .._device import check_device
from .._tensor import Tensor, _to_array
from ._common import inplace, write_out
from ._registry import register
from .errors import broadcast_error
from .shape import expand


def _finish(arr, requires_grad=False, device=None):
    check_device(device)
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        shape = tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"size must be a sequence of ints, got {size!r}") from None
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    return shape


def _float_dtype(dtype):
    return D.get_default_dtype() if dtype is None else dtype


def _check_dtype(dtype):
    if dtype is not None and not isinstance(dtype, D.dtype):
        raise TypeError(f"dtype must be a tensorstein dtype, got {dtype!r}")
    return dtype


# ---------------------------------------------------------------- from data
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data`` (nested lists, NumPy arrays, scalars, tensors)."""
    arr = _to_array(data, _check_dtype(dtype), copy=True)
    return _finish(arr, requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array or tensor when no conversion is needed."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype is dtype):
        return data
    return _finish(_to_array(data, _check_dtype(dtype), copy=False), False, device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    arr = _to_array(obj, dtype, copy=bool(copy))
    return _finish(arr, requires_grad, device)


def from_numpy(ndarray):
    """A tensor sharing memory with ``ndarray``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    D.from_numpy_dtype(ndarray.dtype)
    return Tensor._make(ndarray)


# ---------------------------------------------------------------- filled
def _filled(fill, size, dtype, device, requires_grad, out):
    shape = _size(size)
    d = _check_dtype(dtype) or D.get_default_dtype()
    arr = np.full(shape, fill, dtype=d.np) if fill is not None else np.empty(shape, dtype=d.np)
    if out is not None:
        return write_out(out, Tensor._make(arr))
    return _finish(arr, requires_grad, device)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    return _filled(0, size, dtype, device, requires_grad, out)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    return _filled(1, size, dtype, device, requires_grad, out)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, memory_format=None):
    return _filled(None, size, dtype, device, requires_grad, out)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None):
    if dtype is None:
        dtype = D.scalar_dtype(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    return _filled(fill_value, (size,), dtype, device, requires_grad, out)


def _like(input, fill, dtype, device, requires_grad):
    d = dtype or input.dtype
    shape = input._data.shape
    arr = np.full(shape, fill, dtype=d.np) if fill is not None else np.empty(shape, dtype=d.np)
    return _finish(arr, requires_grad, device)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(input, 0, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(input, 1, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(input, None, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(input, fill_value, dtype, device, requires_grad)


# ---------------------------------------------------------------- ranges
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None):
    """Values from start (inclusive) to end (exclusive); int64 for integer arguments."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if vals[2] == 0:
        raise RuntimeError("step must be nonzero")
    if (vals[1] - vals[0]) * vals[2] < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = D.int64 if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals) \
            else D.get_default_dtype()
    n = max(math.ceil((vals[1] - vals[0]) / vals[2]), 0)
    arr = (vals[0] + np.arange(n, dtype=np.float64 if dtype.is_floating_point else np.int64) * vals[2])
    return _finish_out(arr.astype(dtype.np), requires_grad, device, out)


def _finish_out(arr, requires_grad, device, out):
    if out is not None:
        return write_out(out, Tensor._make(arr))
    return _finish(arr, requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None):
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    d = _float_dtype(dtype)
    arr = np.linspace(float(start), float(end), int(steps), dtype=np.float64)
    return _finish_out(arr.astype(d.np), requires_grad, device, out)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    d = _float_dtype(dtype)
    arr = base ** np.linspace(float(start), float(end), int(steps), dtype=np.float64)
    return _finish(arr.astype(d.np), requires_grad, device)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None):
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    d = _float_dtype(dtype)
    return _finish_out(np.eye(n, m, dtype=d.np), requires_grad, device, out)


# ---------------------------------------------------------------- in-place fills (under any grad mode)
def _fill_inplace(self, arr):
    if grad_enabled() and self.requires_grad and self.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    np.copyto(self._data, arr, casting="unsafe")
    self._version[0] += 1
    return self


def zero_(self):
    return _fill_inplace(self, 0)


def fill_(self, value):
    return _fill_inplace(self, value.item() if isinstance(value, Tensor) else value)


# ---------------------------------------------------------------- dtype conversion
ToCopyBackward0 = node_type("ToCopyBackward0")


def to_dtype(input, dtype, copy=False):
    """Convert to ``dtype`` (differentiable between floating types)."""
    if dtype is input.dtype and not copy:
        return input
    x = input._data
    if dtype.is_floating_point or x.dtype.kind != "f" or not (np.isnan(x).any() or np.isinf(x).any()):
        arr = x.astype(dtype.np)
    else:
        with np.errstate(invalid="ignore"):
            arr = x.astype(dtype.np)
    if x.dtype == D.bfloat16.np and dtype._category == 1:
        arr = x.astype(np.float32).astype(np.int64).astype(dtype.np)
    res = Tensor._make(arr)
    if dtype.is_floating_point:
        src = input.dtype
        attach(res, ToCopyBackward0, lambda g: (to_dtype(g, src),), (input,))
    return res


def parse_to_args(args, kwargs):
    """``(device, dtype, copy)`` from the arguments of ``Tensor.to`` / ``Module.to``."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, D.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif not isinstance(a, bool):
            device = a
    check_device(device)
    return device, dtype, copy


def to(input, *args, **kwargs):
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; ``copy=True`` forces a copy."""
    _, dtype, copy = parse_to_args(args, kwargs)
    if dtype is None:
        return input.clone() if copy else input
    return to_dtype(input, dtype, copy)


def _type(self, dtype=None, non_blocking=False):
    """No argument: the legacy type name (``'tensorstein.FloatTensor'``); else convert to ``dtype``
    (a dtype or a legacy name such as ``'torch.DoubleTensor'``)."""
    if dtype is None:
        return "tensorstein." + self.dtype.tensor_type
    if isinstance(getattr(dtype, "dtype", None), D.dtype):  # a legacy type: ``t.type(torch.LongTensor)``
        dtype = dtype.dtype
    if isinstance(dtype, str):
        key = dtype.rsplit(".", 1)[-1]
        if key not in D.BY_TENSOR_TYPE:
            raise ValueError(f"invalid type: '{dtype}'")
        dtype = D.BY_TENSOR_TYPE[key]
    return to_dtype(self, dtype)


CopyBackwards = node_type("CopyBackwards")


def _copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, converted) into ``self`` in place."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'other' must be Tensor, not {type(src).__name__}")
    try:
        np.broadcast_to(src._data, self._data.shape)
    except ValueError:
        raise broadcast_error(self._data.shape, src._data.shape) from None

    def replace(old, value):
        res = expand(to_dtype(value, old.dtype), old._data.shape).clone()
        if not res.requires_grad:  # the history continues through a copy from a constant (zero gradient)
            attach(res, CopyBackwards, lambda g: (None, None), (old, None))
        return res

    return inplace(self, replace, src)


def _cast_method(d: D.dtype):
    def method(self, memory_format=None):
        return to_dtype(self, d)

    method.__name__ = d.cast or d.name
    method.__doc__ = f"``self.to({d!r})``."
    return method


def type_as(input, other):
    return to_dtype(input, other.dtype)


def new_zeros(input, *size, dtype=None, **kw):
    return zeros(*size, dtype=dtype or input.dtype, **kw)


def new_ones(input, *size, dtype=None, **kw):
    return ones(*size, dtype=dtype or input.dtype, **kw)


def new_empty(input, *size, dtype=None, **kw):
    return empty(*size, dtype=dtype or input.dtype, **kw)


def new_full(input, size, fill_value, dtype=None, **kw):
    return full(size, fill_value, dtype=dtype or input.dtype, **kw)


def new_tensor(input, data, dtype=None, **kw):
    return tensor(data, dtype=dtype or input.dtype, **kw)


register(tensor, as_tensor, asarray, from_numpy, zeros, ones, empty, full, zeros_like, ones_like, empty_like, full_like,
         arange, linspace, logspace, eye, method=False)
register(to, type_as, new_zeros, new_ones, new_empty, new_full, new_tensor, zero_, fill_, function=False)
register(_copy_, name="copy_", function=False)
register(_type, name="type", function=False, returns="Any")
for _d in D.ALL_DTYPES:
    register(_cast_method(_d), name=_d.cast, function=False)
