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
from ._common import check_fill, inplace, write_out
from ._registry import register
from .errors import broadcast_error
from .shape import expand


def _finish(arr, requires_grad=False, device=None):
    check_device(device)
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _size(size, op: str = "zeros", single: bool = False) -> tuple:
    """The shape from ``*size`` (or one sequence), with torch's TypeError for a non-integer size."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size, single = size[0], True
    for i, s in enumerate(size):
        if not isinstance(s, (int, np.integer)) and not (isinstance(s, Tensor) and s.ndim == 0
                                                         and s.dtype._category == 1):
            kind = type(s).__name__
            if single and len(size) > 1 or i:
                raise TypeError(f"{op}(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                                f"\"type must be tuple of ints,but got {kind}\"")
            if single:
                raise TypeError(f"{op}(): argument 'size' (position 1) must be tuple of ints, but found element of "
                                f"type {kind} at pos 0")
            raise TypeError(f"{op}(): argument 'size' (position 1) must be tuple of ints, not {kind}")
    shape = tuple(int(s) for s in size)
    for s in shape:
        if s < 0:
            if op == "zeros":
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    return shape


_RAM = None


def _check_alloc(shape, d) -> None:
    """torch's allocator error for a request beyond the machine's memory, raised before allocating."""
    global _RAM
    n = d.np.itemsize
    for s in shape:
        n *= s
    if n < (1 << 30):
        return
    if _RAM is None:
        import os
        try:
            _RAM = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            _RAM = 1 << 40
    if n > _RAM:
        raise RuntimeError(f"[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                           f"memory: you tried to allocate {n} bytes. Error code 12 (Cannot allocate memory)\n"
                           f"shape {list(shape)} of {d.name} needs more memory than this machine has")


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
def _filled(fill, size, dtype, device, requires_grad, out, op="zeros", single=False):
    shape = _size(size, op, single)
    d = _check_dtype(dtype) or D.get_default_dtype()
    check_device(device)
    _check_alloc(shape, d)
    if fill is None:
        arr = np.empty(shape, dtype=d.np)
    elif type(fill) is int and fill == 0:
        arr = np.zeros(shape, dtype=d.np)
    else:
        arr = np.full(shape, check_fill(fill, d), dtype=d.np)
    if out is not None:
        return write_out(out, Tensor._make(arr))
    return _finish(arr, requires_grad, device)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    return _filled(0, size, dtype, device, requires_grad, out)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    return _filled(1, size, dtype, device, requires_grad, out, "ones")


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, memory_format=None):
    return _filled(None, size, dtype, device, requires_grad, out, "empty")


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None):
    if dtype is None:
        dtype = D.scalar_dtype(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    if isinstance(size, (tuple, list)):
        return _filled(fill_value, tuple(size), dtype, device, requires_grad, out, "full", True)
    return _filled(fill_value, (size,), dtype, device, requires_grad, out, "full")


def _like(input, fill, dtype, device, requires_grad):
    d = dtype or input.dtype
    shape = input._data.shape
    check_device(device)
    arr = np.full(shape, check_fill(fill, d), dtype=d.np) if fill is not None else np.empty(shape, dtype=d.np)
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
    if dtype is None:
        dtype = D.int64 if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals) \
            else D.get_default_dtype()
    for v in vals[:2]:
        if isinstance(v, float) and not math.isfinite(v):
            raise RuntimeError(f"unsupported range: {vals[0]} -> {vals[1]}")
    if dtype._category <= 1:
        ivals = [int(v) for v in vals]  # torch truncates the bounds and step to integers first
        if vals[2] == 0:
            raise RuntimeError("step must be nonzero")
        if dtype is D.int64:  # torch: integer division (toward zero) of the truncated bounds
            if ivals[2] == 0:
                raise ValueError("step must be nonzero")
            if (ivals[1] - ivals[0]) * ivals[2] < 0:
                raise RuntimeError("upper bound and lower bound inconsistent with step sign")
            sgn = (ivals[2] > 0) - (ivals[2] < 0)
            num = ivals[1] - ivals[0] + ivals[2] - sgn
            n = abs(num) // abs(ivals[2]) * (1 if (num >= 0) == (ivals[2] > 0) else -1)
        else:
            if (vals[1] - vals[0]) * vals[2] < 0:
                raise RuntimeError("upper bound and lower bound inconsistent with step sign")
            n = math.ceil((vals[1] - vals[0]) / vals[2])
        arr = ivals[0] + np.arange(max(n, 0), dtype=np.int64) * ivals[2]
        return _finish_out(arr.astype(dtype.np), requires_grad, device, out)
    if vals[2] == 0:
        raise RuntimeError("step must be nonzero")
    if (vals[1] - vals[0]) * vals[2] < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = max(math.ceil((vals[1] - vals[0]) / vals[2]), 0)
    arr = (vals[0] + np.arange(n, dtype=np.float64) * vals[2])
    return _finish_out(arr.astype(dtype.np), requires_grad, device, out)


def _finish_out(arr, requires_grad, device, out):
    if out is not None:
        return write_out(out, Tensor._make(arr))
    return _finish(arr, requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None):
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    d = _float_dtype(dtype)
    if steps == 1:  # torch returns ``start`` even when ``end`` is infinite
        arr = np.array([float(start)])
    else:
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
    x = self._data
    if not x.flags.writeable and 0 in x.strides:  # an expanded view: fill each distinct element once (torch)
        x = _owner_view(x)
    np.copyto(x, arr, casting="unsafe")
    self._version[0] += 1
    return self


def _owner_view(x):
    """A writable view of the distinct elements of a broadcast (0-stride) array, through its memory owner."""
    root = x
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not root.flags.writeable or not root.flags.c_contiguous:
        return x
    keep = tuple(slice(0, 1) if st == 0 else slice(None) for st in x.strides)
    sub = x[keep]
    offset = sub.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return np.ndarray(sub.shape, x.dtype, buffer=root, offset=offset, strides=sub.strides)


def zero_(self):
    return _fill_inplace(self, 0)


def fill_(self, value):
    """Fill in place; torch checks the value's range, except for one-element float16/bfloat16 targets."""
    if (self.dtype is D.float16 or self.dtype is D.bfloat16) and self._data.size == 1:
        return _fill_inplace(self, value.item() if isinstance(value, Tensor) else value)
    return _fill_inplace(self, check_fill(value, self.dtype))


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
