"""Shared op plumbing (the leaf every op module builds on): operand preparation, scalar casting,
the one ``out=`` writer and the in-place driver.

>>> x, y, rt = binary_operands(Tensor._make(np.ones(2, np.int8)), 2.5)
>>> rt, y
(tensorstein.float32, np.float32(2.5))
"""
from __future__ import annotations

import math

import numpy as np

from .. import _dtype as D
from .._autograd.grad_mode import grad_enabled
from .._autograd.graph import needs_grad
from .._kernels.lazy import LIGHT, PARALLEL_MIN, STREAMS, kernels
from .._tensor import Tensor
from .errors import broadcast_error

SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)
HALF = (np.dtype(np.float16), D.bfloat16.np)  # accumulate in float32


def scalar_value(x):
    """A Python scalar from a Python/NumPy scalar (NumPy scalars act as Python numbers, as in torch)."""
    return x.item() if isinstance(x, np.generic) else x


def as_tensor_arg(x, name: str = "other"):
    """Accept a Tensor or a Python scalar; anything else is a TypeError naming the argument."""
    if isinstance(x, Tensor) or isinstance(x, SCALARS):
        return scalar_value(x)
    if isinstance(x, np.ndarray):
        return Tensor._make(x)
    raise TypeError(f"{name} must be a Tensor or a number, not {type(x).__name__}")


def check_tensor(input, name: str, arg: str = "input", position: int = 1) -> None:
    """torch's TypeError for a non-Tensor argument."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not "
                        f"{type(input).__name__}")


def cast_scalar(s, d: D.dtype):
    """A Python scalar as an array scalar of ``d``, wrapping integers as torch does."""
    if d._category == 1 and isinstance(s, int) and not isinstance(s, bool):
        return np.array(s, dtype=np.int64).astype(d.np)
    return d.np.type(s)


_CONVERT_NAME = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t",
                 "float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double"}


def check_fill(value, d: D.dtype):
    """``value`` as a fill of dtype ``d``; torch's overflow error when it does not fit (unsigned ints wrap
    negative values down to -max, as torch's ``c10::overflows``)."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if d is D.bool_ or isinstance(value, bool):
        return value
    if d._category == 1:
        info = np.iinfo(d.np)
        if isinstance(value, float):
            bad = math.isnan(value) or not (info.min <= value <= info.max) if math.isfinite(value) else True
            if not bad:
                return value
        else:
            lo = -info.max if info.min == 0 else info.min
            if lo <= value <= info.max:
                return np.array(value, dtype=np.int64).astype(d.np) if value < 0 else value
        raise RuntimeError(f"value cannot be converted to type {_CONVERT_NAME[d.name]} without overflow")
    if d is not D.float64 and isinstance(value, (int, float)) and math.isfinite(value) and \
            abs(value) > float(np.finfo(np.float32 if d is D.bfloat16 else d.np).max) * (1.0039 if d is D.bfloat16
                                                                                      else 1.0):
        raise RuntimeError(f"value cannot be converted to type {_CONVERT_NAME[d.name]} without overflow")
    return value


def binary_operands(a, b):
    """Arrays (or scalars) ready for a ufunc, and the torch result dtype of ``a op b``."""
    if isinstance(a, Tensor):
        x = a._data
        if isinstance(b, Tensor):
            y = b._data
            if x.dtype is y.dtype or x.dtype == y.dtype:
                return x, y, D._BY_NP[x.dtype]
            rt = D.result_type(a, b)
            return x.astype(rt.np, copy=False), y.astype(rt.np, copy=False), rt
        td = D._BY_NP[x.dtype]
        if td._category == 2 and (type(b) is float or type(b) is int) and td is not D.bfloat16:
            if td is not D.float16 or b == 0 or 6.2e-5 <= abs(b) <= 65504.0 or b != b or abs(b) == _INF:
                return x, b, td  # NEP 50: a Python number keeps the float array's dtype
            return x.astype(np.float32), np.float32(b), td  # torch: half op scalar computes in float32
        sd = D.scalar_dtype(b)
        if sd._category <= td._category:
            return x, cast_scalar(b, td), td
        rt = D.result_type(a, b)
        return x.astype(rt.np), cast_scalar(b, rt), rt
    if isinstance(b, Tensor):
        y, x, rt = binary_operands(b, a)
        return x, y, rt
    raise TypeError("at least one operand must be a Tensor")


_STREAMS_MIN, _LIGHT_MIN = STREAMS * PARALLEL_MIN, LIGHT * PARALLEL_MIN


def ufunc2(np_fn, x, y):
    """``np_fn(x, y)`` for arrays or scalars; operands of ``PARALLEL_MIN`` elements or more on all cores
    (``_kernels/binary.py``, NumPy's result bit for bit)."""
    if type(x) is np.ndarray:
        nx = x.size
        if type(y) is np.ndarray:
            if nx == y.size:
                if nx < _STREAMS_MIN:  # see lazy.py: cheap work stays on this thread
                    return np_fn(x, y)
                out = kernels("binary").same_shape(np_fn, x, y)  # the common case first: a + b
                return out if out is not None else kernels("binary").apply(np_fn, x, y)
            if nx < _LIGHT_MIN and y.size < _LIGHT_MIN:
                return np_fn(x, y)
        elif nx < _LIGHT_MIN:
            return np_fn(x, y)
        elif type(y) is float and (out := kernels("binary").with_scalar(np_fn, x, y)) is not None:
            return out  # a * 2.0
    elif type(y) is not np.ndarray or y.size < _LIGHT_MIN:
        return np_fn(x, y)
    return kernels("binary").apply(np_fn, x, y)


def apply_binary(np_fn, x, y, a, b):
    """``np_fn(x, y)``; a broadcast failure becomes torch's message naming the shapes of ``a`` and ``b``.
    A float16 operand computed in float32 with a scalar (see ``binary_operands``) is rounded back to float16."""
    try:
        r = ufunc2(np_fn, x, y)
        if (type(y) is np.float32 or type(x) is np.float32) and r.dtype is _F32 and _is_f16(a, b):
            with np.errstate(over="ignore"):
                r = r.astype(np.float16)
        return r
    except ValueError:
        sa = a._data.shape if isinstance(a, Tensor) else ()
        sb = b._data.shape if isinstance(b, Tensor) else ()
        raise broadcast_error(sa, sb) from None


_F32 = np.dtype(np.float32)
_INF = float("inf")


def _is_f16(a, b) -> bool:
    t = a if isinstance(a, Tensor) else b
    return isinstance(t, Tensor) and t._data.dtype == np.float16


try:  # NumPy 2 keeps its FP-error state in a context variable: setting it directly costs ~0.15 us, np.errstate ~1 us
    from numpy._core._ufunc_config import _extobj_contextvar as _EXTOBJ  # type: ignore[attr-defined]
    from numpy._core.umath import _make_extobj

    _IGNORE = _make_extobj(all="ignore")
except (ImportError, AttributeError, TypeError):  # pragma: no cover - another NumPy: the public context manager
    _EXTOBJ = None


def quiet(fn, *args):
    """``fn(*args)`` with NumPy's floating-point warnings off (torch computes NaN / inf silently).

    >>> quiet(np.log, np.zeros(1, np.float32))
    array([-inf], dtype=float32)
    """
    if _EXTOBJ is None:  # pragma: no cover
        with np.errstate(all="ignore"):
            return fn(*args)
    token = _EXTOBJ.set(_IGNORE)
    try:
        return fn(*args)
    finally:
        _EXTOBJ.reset(token)


_ENTRIES: dict = {}


def small_map2(kernel: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``_kernels/<module>.<name>(flat_a, flat_b, flat_out)`` (``kernel = "module.name"``) into a new array,
    through the kernel's entry point (:func:`entry`): the one-thread path, no pool and no type dispatch. ``a``
    and ``b`` have one shape and one dtype, float32 or float64 (any layout: ``ravel`` copies a strided one).

    >>> small_map2("activations._relu_bk", np.ones(2, np.float32), np.array([-1.0, 2.0], np.float32))
    array([0., 1.], dtype=float32)
    """
    ep = _ENTRIES.get((kernel, a.dtype))
    if ep is None:
        ep = entry(kernel, a.dtype, (1, 1, 1))
    out = np.empty(a.shape, a.dtype)
    ep(a.ravel(), b.ravel(), out.ravel())
    return out


def rows_view(x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous (rows, last dim) array for a row kernel (a copy only when ``x`` is strided)."""
    if x.ndim == 2 and x.flags.c_contiguous:
        return x
    return x.ravel().reshape(-1, x.shape[-1])


def entry(kernel: str, dt: np.dtype, kinds: tuple):
    """The compiled entry point of ``_kernels/<module>.<name>`` (``kernel = "module.name"``) for arguments of
    these ``kinds``: an int ``r`` is a C-contiguous array of rank ``r`` and dtype ``dt``, ``(r, dtype)`` one of
    that dtype; ``float`` a scalar of ``dt``, ``int`` an int64, ``bool`` a bool. Cached per (kernel, dtype): one
    kernel is always called with one argument pattern.

    >>> entry("reduce._flat_k", np.dtype(np.float32), (1, bool))(np.ones(3, np.float32), False)
    3.0
    """
    ep = _ENTRIES.get((kernel, dt))
    if ep is None:
        from .._kernels.lazy import kernels

        args = [False if k is bool else dt.type(0) if k is float else np.int64(0) if k is int else
                np.empty((0,) * k, dt) if isinstance(k, int) else np.empty((0,) * k[0], k[1]) for k in kinds]
        ep = _ENTRIES[kernel, dt] = kernels("pointwise").entry_point(kernel_fn(kernel), *args)
    return ep


def serial_below(kernel: str) -> int:
    """Elements below which ``kernel`` (``"module.name"``, as :func:`entry`) runs on the calling thread at any
    thread count: PARALLEL_MIN times the kernel's grain (``_kernels/elementwise_engine.grain``).

    >>> serial_below("activations._relu_k") // PARALLEL_MIN
    2
    """
    n = _SERIAL_BELOW.get(kernel)
    if n is None:
        n = _SERIAL_BELOW[kernel] = kernels("elementwise_engine").split_min(kernel_fn(kernel))
    return n


def split_unary(kernel: str, x: np.ndarray, *params):
    """``kernel(flat_x, flat_out, *params)`` (``"module.name"``, as :func:`entry`) into a new array, split over
    all cores, for a large C-contiguous float32/float64 ``x``; None where it does not split (too small, one
    thread, the team busy: then the caller's other path serves). ``params`` are typed as every other call of
    the kernel types them, or Python floats standing for scalars of ``x``'s dtype (see
    ``native_parallel.launch_new``). The op layer's one call on the split path.

    >>> split_unary("activations._relu_k", np.ones(3, np.float32)) is None  # too small to split
    True
    """
    if not x.flags.c_contiguous:
        return None
    return kernels("elementwise_engine").split_new(kernel_fn(kernel), (x,), params)


def kernel_fn(kernel: str):
    """The Numba kernel ``_kernels/<module>.<name>`` (``kernel = "module.name"``).

    >>> kernel_fn("activations._relu_k").__name__
    '_relu_k'
    """
    fn = _KERNEL_FN.get(kernel)
    if fn is None:
        module, name = kernel.split(".")
        fn = _KERNEL_FN[kernel] = getattr(kernels(module), name)
    return fn


_SERIAL_BELOW: dict = {}
_KERNEL_FN: dict = {}


def float_input(x: np.ndarray) -> np.ndarray:
    """Integer and bool inputs of floating functions compute in the default float dtype, as torch."""
    if x.dtype.kind in "iub":
        return x.astype(D.get_default_dtype().np)
    return x


def return_type(name: str, fields: tuple[str, ...] = ("values", "indices")) -> type:
    """A named tuple type shown as torch's ``torch.return_types.<name>(\\nvalues=...,\\nindices=...)``."""
    import collections

    cls = collections.namedtuple(name, fields)  # type: ignore[misc]
    cls.__module__ = "tensorstein.return_types"
    cls.__qualname__ = name

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"tensorstein.return_types.{name}(\n{body})"

    cls.__repr__ = __repr__  # type: ignore[method-assign]
    return cls


def tensor_or_none(x):
    return x if isinstance(x, Tensor) else None


# ---------------------------------------------------------------- out= and in-place support
def write_out(out, res, op: str | None = None):
    """The one ``out=`` writer: copy ``res`` into ``out`` (resized when its shape differs, as torch does)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"out must be a Tensor, not {type(out).__name__}")
    if needs_grad(res) or (out.requires_grad and out.grad_fn is None and grad_enabled()):
        raise RuntimeError(f"{op + '(): functions with ' if op else ''}out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if out.dtype._category < res.dtype._category:
        raise RuntimeError(f"result type {res.dtype.scalar_name} can't be cast to the desired output type "
                           f"{out.dtype.scalar_name}")
    if out._data.shape != res._data.shape:
        out._data = np.empty(res._data.shape, dtype=out._data.dtype)
    np.copyto(out._data, res._data, casting="unsafe")
    out._version[0] += 1
    return out


_CPP_STYLE = ("clamp", "clamp_min", "clamp_max", "clip")  # torch names the output type the C++ way here


def inplace(self, fn, *args, **kwargs):
    """Run ``fn(self, *args)`` out of place, then write the result into ``self``, as torch's ``op_``.

    The autograd history of ``self`` is rebased onto the new node; a leaf that requires grad refuses.
    """
    if not isinstance(self, Tensor):
        raise TypeError("in-place operations need a Tensor")
    grad_on = grad_enabled()
    if grad_on and self.requires_grad and self.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if grad_on and (self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)):
        old = Tensor._make(self._data.copy())  # the value before the write, for the backward
        old.requires_grad, old.grad_fn = self.requires_grad, self.grad_fn
        res = fn(old, *args, **kwargs)
    else:
        res = fn(self, *args, **kwargs)
    if res._data.shape != self._data.shape:
        raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
                           f"{list(res._data.shape)}")
    if self.dtype._category < res.dtype._category:
        cpp = getattr(fn, "__name__", "") in _CPP_STYLE
        raise RuntimeError(f"result type {res.dtype.scalar_name} can't be cast to the desired output type "
                           f"{self.dtype.cpp_name if cpp else self.dtype.scalar_name}")
    if not self._data.flags.writeable:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")
    np.copyto(self._data, res._data, casting="unsafe")
    self._version[0] += 1
    if res.grad_fn is not None:
        self.grad_fn = res.grad_fn
        self.requires_grad = True
    elif self.grad_fn is not None and grad_on:  # the new value no longer depends on the old history
        self.grad_fn = None
        self.requires_grad = False
    return self


def make_inplace(fn):
    """The ``op_`` method of ``fn``: computed out of place and written back (autograd-aware)."""
    def method(self, *args, **kwargs):
        return inplace(self, fn, *args, **kwargs)

    method.__name__ = getattr(fn, "__name__", "op") + "_"
    return method
