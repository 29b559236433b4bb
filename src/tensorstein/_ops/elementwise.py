"""Element-wise binary ops with torch's type promotion and broadcasting, each with its backward.

>>> add(tensor([1, 2]), 1.5)
tensor([2.5000, 3.5000])
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import _dtype as D
from .._autograd.grad_mode import grad_enabled
from .._autograd.graph import attach, node_type, needs_grad
from .._kernels.lazy import LIGHT, PARALLEL_MIN, kernels
from .._tensor import Tensor
from ._common import apply_binary as _apply, as_tensor_arg, binary_operands, tensor_or_none as _t
from ._common import quiet, ufunc2, write_out
from ._registry import register
from .errors import broadcast_shapes

# ---------------------------------------------------------------- arithmetic
AddBackward0 = node_type("AddBackward0")
SubBackward0 = node_type("SubBackward0")
RsubBackward1 = node_type("RsubBackward1")
MulBackward0 = node_type("MulBackward0")
DivBackward0 = node_type("DivBackward0")
PowBackward0 = node_type("PowBackward0")
PowBackward1 = node_type("PowBackward1")
MaximumBackward0 = node_type("MaximumBackward0")
MinimumBackward0 = node_type("MinimumBackward0")


def _float_tensor(a):
    """A float32/float64 Tensor (a Python-number operand keeps its dtype, NEP 50: the fast path)."""
    if isinstance(a, Tensor):
        dt = a._data.dtype
        return dt is _F32 or dt is _F64
    return False


def _same_float(a, b):
    """Both Tensors of one float32/float64 dtype: the ufunc needs no promotion or casting (the fast path)."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        dt = a._data.dtype
        return dt is b._data.dtype and (dt is _F32 or dt is _F64)
    return False


def _fast_add_sub(np_fn, input, other, node, backward):
    """The fast path of add / sub: same-dtype float32/float64 tensors, or such a tensor with a Python number
    (NEP 50: the scalar keeps the tensor's dtype), straight to the ufunc. None otherwise, and when the shapes
    do not broadcast (the general path raises torch's message)."""
    if isinstance(other, Tensor):
        if not _same_float(input, other):
            return None
        try:
            res = Tensor._make(ufunc2(np_fn, input._data, other._data))
        except ValueError:
            return None
        return attach(res, node, backward, (input, other)) if input.requires_grad or other.requires_grad else res
    t = type(other)
    if (t is float or t is int) and _float_tensor(input):
        res = Tensor._make(ufunc2(np_fn, input._data, other))
        return attach(res, node, backward, (input, None)) if input.requires_grad else res
    return None


def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other`` with broadcasting and type promotion."""
    if out is None and alpha == 1 and \
            (res := _fast_add_sub(np.add, input, other, AddBackward0, _add_backward)) is not None:
        return res
    other = as_tensor_arg(other)
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    x, y, rt = binary_operands(input, other)
    res = Tensor._make(_apply(np.add, x, y, input, other))
    if out is not None:
        return write_out(out, res)
    return attach(res, AddBackward0, lambda g: (g, g), (_t(input), _t(other)))


def _add_backward(g):
    return g, g


def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other``."""
    if out is None and alpha == 1 and \
            (res := _fast_add_sub(np.subtract, input, other, SubBackward0, _sub_backward)) is not None:
        return res
    other = as_tensor_arg(other)
    if alpha != 1:
        if _is_bool(input) or _is_bool(other):
            _sub_bool_error(D.result_type(input, other))
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    x, y, rt = binary_operands(input, other)
    if rt is D.bool_ or _is_bool(input) or _is_bool(other):
        _sub_bool_error(rt)
    res = Tensor._make(_apply(np.subtract, x, y, input, other))
    if out is not None:
        return write_out(out, res)
    return attach(res, SubBackward0, lambda g: (g, -g), (_t(input), _t(other)))


def _sub_backward(g):
    return g, -g


def _is_bool(v):
    return v.__class__ is bool or (isinstance(v, Tensor) and v._data.dtype == np.bool_)


def _sub_bool_error(rt):
    if rt is D.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                       "invert a mask, use the `~` or `logical_not()` operator instead.")


def rsub(input, other, *, alpha=1):
    """``other - alpha * input``."""
    res = sub(other, mul(input, alpha) if alpha != 1 else input) if isinstance(other, Tensor) else None
    if res is not None:
        return res
    x, y, rt = binary_operands(input, other)
    if rt is D.bool_ or _is_bool(input) or _is_bool(other):
        _sub_bool_error(rt)
    if alpha != 1:
        x = x * alpha
    res = Tensor._make(_apply(np.subtract, y, x, other, input))
    return attach(res, RsubBackward1, lambda g: (-g if alpha == 1 else g * -alpha,), (input,))


def mul(input, other, *, out=None):
    """Element-wise product ``C_ij = A_ij * B_ij`` with broadcasting."""
    res = None
    if out is None:
        if isinstance(other, Tensor):
            if _same_float(input, other):
                try:
                    res = Tensor._make(ufunc2(np.multiply, input._data, other._data))
                except ValueError:  # not broadcastable: the general path raises torch's message
                    pass
                else:
                    if not ((input.requires_grad or other.requires_grad) and grad_enabled()):
                        return res  # no graph to record
        else:
            t = type(other)
            if (t is float or t is int) and _float_tensor(input):  # NEP 50: the scalar keeps the tensor's dtype
                res = Tensor._make(ufunc2(np.multiply, input._data, other))
                if input.requires_grad and grad_enabled():
                    attach(res, MulBackward0, lambda g: (g * other, None), (input, None))
                return res
    if res is None:
        other = as_tensor_arg(other)
        x, y, rt = binary_operands(input, other)
        res = Tensor._make(_apply(np.multiply if rt is not D.bool_ else np.logical_and, x, y, input, other))
    if out is not None:
        return write_out(out, res)
    a, b = input, other
    ra, rb = _wants(a), _wants(b)
    if (ra or rb) and grad_enabled():
        # each gradient needs the other operand: save only those (an in-place write to the other is harmless)
        saved = tuple(t for t, used in ((a, rb), (b, ra)) if used and isinstance(t, Tensor))
        attach(res, MulBackward0, lambda g: (g * b if ra else None, g * a if rb else None), (_t(a), _t(b)), saved)
    return res


def _wants(x):
    return isinstance(x, Tensor) and x.requires_grad


def div(input, other, *, rounding_mode=None, out=None):
    """True division (ints give the default float); ``rounding_mode`` 'trunc' or 'floor'."""
    if rounding_mode is None and out is None and isinstance(other, Tensor) and _same_float(input, other):
        try:  # the ufunc straight away
            res = Tensor._make(quiet(ufunc2, np.true_divide, input._data, other._data))
        except ValueError:  # not broadcastable: the general path raises torch's message
            pass
        else:
            return _attach_div(res, input, other)
    other = as_tensor_arg(other)
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                             f"'{rounding_mode}'")
        return _rounded_div(input, other, rounding_mode, out)
    x, y, rt = binary_operands(input, other)
    if not rt.is_floating_point:
        # integer operands convert to the default float from their own values (no wrap to the common int type)
        f = D.get_default_dtype().np
        x = (input._data if isinstance(input, Tensor) else np.asarray(input)).astype(f)
        y = (other._data if isinstance(other, Tensor) else np.asarray(other)).astype(f)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        res = Tensor._make(_apply(np.true_divide, x, y, input, other))
    if out is not None:
        return write_out(out, res)
    return _attach_div(res, input, other)


def _attach_div(res, a, b):
    if needs_grad(_t(a), _t(b)):
        attach(res, DivBackward0,
               lambda g: (g / b if _wants(a) else None, -g * a / (b * b) if _wants(b) else None),
               (_t(a), _t(b)), tuple(t for t in (a, b) if isinstance(t, Tensor)))
    return res


def _rounded_div(input, other, mode, out):
    x, y, rt = binary_operands(input, other)
    if rt is D.bool_:
        raise NotImplementedError(f"\"div_{mode}_cpu\" not implemented for 'Bool'")
    if rt._category == 1 and np.size(x) and np.any(np.asarray(y) == 0):
        raise RuntimeError("ZeroDivisionError")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if mode == "floor":
            arr = _apply(np.floor_divide, x, y, input, other)
        elif rt.is_floating_point:
            arr = np.trunc(_apply(np.true_divide, x, y, input, other))
        else:
            q = _apply(np.floor_divide, x, y, input, other)
            arr = q + ((np.remainder(x, y) != 0) & ((x < 0) != (y < 0)))
    res = Tensor._make(np.asarray(arr).astype(rt.np, copy=False))
    res = write_out(out, res) if out is not None else res
    return res


def floor_divide(input, other, *, out=None):
    return div(input, other, rounding_mode="floor", out=out)


def remainder(input, other, *, out=None):
    """Python-style modulus: the result has the sign of the divisor."""
    other = as_tensor_arg(other)
    x, y, rt = binary_operands(input, other)
    if rt is D.bool_:
        raise NotImplementedError("\"remainder_cpu\" not implemented for 'Bool'")
    if rt._category == 1 and np.size(x) and np.any(np.asarray(y) == 0):
        raise RuntimeError("ZeroDivisionError")
    with np.errstate(divide="ignore", invalid="ignore"):
        res = Tensor._make(_apply(np.remainder, x, y, input, other))
    if out is not None:
        return write_out(out, res)
    if needs_grad(_t(input), _t(other)):
        a, b = input, other
        attach(res, node_type("RemainderBackward0"),
               lambda g: (g, -g * floor_divide(a, b) if _wants(b) else None), (_t(a), _t(b)))
    return res


def fmod(input, other):
    """C-style modulus: the result has the sign of the dividend."""
    other = as_tensor_arg(other)
    x, y, rt = binary_operands(input, other)
    if rt is D.bool_:
        raise NotImplementedError("\"fmod_cpu\" not implemented for 'Bool'")
    if rt._category == 1 and np.size(x) and np.any(np.asarray(y) == 0):
        raise RuntimeError("ZeroDivisionError")
    with np.errstate(divide="ignore", invalid="ignore"):
        res = Tensor._make(_apply(np.fmod, x, y, input, other))
    if not isinstance(other, Tensor):
        return attach(res, node_type("FmodBackward0"), lambda g: (g, None), (_t(input), None))
    a, b = input, other
    return attach(res, node_type("FmodBackward1"),
                  lambda g: (g, -g * div(a, b, rounding_mode="trunc") if b.requires_grad else None), (_t(a), b),
                  (a, b))


def pow(input, exponent, *, out=None):
    """``input ** exponent``; integer tensors to negative integer powers raise, as in torch."""
    te = type(exponent)
    if (te is float or te is int) and out is None and isinstance(input, Tensor) and exponent != 1 and \
            _pow_kernel_dtype(input):
        return _pow_scalar_kernel(input, exponent)
    exponent = as_tensor_arg(exponent, "exponent")
    if not isinstance(input, Tensor):
        return _scalar_pow(input, exponent)
    x, y, rt = binary_operands(input, exponent)
    if rt._category == 1 and np.any(np.asarray(y) < 0):
        if not isinstance(exponent, Tensor):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        res = Tensor._make(_int_pow(x, y, input, exponent))
    elif isinstance(exponent, Tensor) and rt in _SLEEF_POW:
        broadcast_shapes(x.shape, y.shape)  # torch's error first
        res = Tensor._make(kernels("sleef_pow").pow_float(x, y))  # torch's SLEEF powf, bit for bit
    elif rt in _SLEEF_POW and type(exponent) in (float, int):  # (an integer tensor to a float result)
        res = Tensor._make(kernels("pointwise").pow_forward(np.asarray(x, rt.np), exponent))
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            res = Tensor._make(_apply(np.power, x, y, input, exponent))
    if out is not None:
        return write_out(out, res)
    if not needs_grad(input, _t(exponent)):
        return res
    a, e = input, exponent
    if not isinstance(e, Tensor):
        if e == 0:
            return attach(res, PowBackward0, lambda g: (g * 0.0,), (a,), (a,))
        return attach(res, PowBackward0, lambda g: (g * e * a ** (e - 1),), (a,), (a,))
    saved = res.detach()

    def backward(g):
        ga = g * e * a ** (e - 1) if a.requires_grad else None
        gb = None
        if e.requires_grad:
            ap = a if a.dtype is saved.dtype else a.to(saved.dtype)  # torch takes the log in the result dtype
            gb = g * saved * where((a == 0) & (e >= 0), 0.0, ap.log())
        return ga, gb

    return attach(res, PowBackward1, backward, (a, e), (a, e, saved))


def _pow_kernel_dtype(t) -> bool:
    dt = t._data.dtype
    return dt is _F32 or dt == np.float32 or dt == np.float64 or dt == np.float16 or dt == D.bfloat16.np


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _pow_scalar_kernel(a, e):
    """Float tensor ``** e`` by the pow kernel (torch's special cases for 3, 0.5, -1, ...); the backward is
    the fused kernel, or tensor ops under create_graph."""
    x = a._data
    if e == 2 and (x.dtype is _F32 or x.dtype is _F64) and x.size < LIGHT * PARALLEL_MIN:  # x * x (torch): fastest
        res = Tensor._make(quiet(np.multiply, x, x))
    else:
        res = Tensor._make(kernels("pointwise").pow_forward(x, e))  # quiet on NaN / inf, as torch
    if not a.requires_grad or not grad_enabled():
        return res
    if e == 0:
        return attach(res, PowBackward0, lambda g: (g * 0.0,), (a,), (a,))

    def backward(g):
        if grad_enabled() or g._data.dtype != a._data.dtype:
            return (g * e * a ** (e - 1),)
        return (Tensor._make(kernels("pointwise").pow_backward(g._data, a._data, None, e)),)

    return attach(res, PowBackward0, backward, (a,), (a,))


def _int_pow(x, y, a, b):
    """Integer ``x ** y`` with negative exponents as torch computes them: 1 and -1 keep a unit, others give 0."""
    x, y = np.asarray(x), np.asarray(y)
    neg = y < 0
    with np.errstate(over="ignore"):
        out = _apply(np.power, x, np.where(neg, 0, y).astype(y.dtype), a, b)
    unit = np.where(x == 1, 1, np.where(x == -1, np.where(y % 2 == 0, 1, -1), 0)).astype(out.dtype)
    return np.where(neg, unit, out)


_SLEEF_POW = (D.float32, D.float64, D.float16, D.bfloat16)


def _scalar_pow(base, exponent: Tensor):
    x, y, rt = binary_operands(exponent, base)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if rt._category == 1 and np.any(x < 0):
            res = Tensor._make(np.asarray(_int_pow(y, x, base, exponent)))
        elif rt in _SLEEF_POW:  # torch wraps the number in a tensor of the result dtype: its SLEEF powf
            x = x.astype(rt.np, copy=False)
            res = Tensor._make(kernels("sleef_pow").pow_float(rt.np.type(base), x, c_order=True))
        else:
            res = Tensor._make(np.power(y, x))
    saved = res.detach()
    logb = math.log(base) if base > 0 else (-math.inf if base == 0 else math.nan)

    def backward(g):  # torch: grad * (result * log(base)), 0 where base == 0 and exponent >= 0
        with np.errstate(invalid="ignore"):
            d = saved * logb
            return (g * (where(exponent >= 0, 0.0, d) if base == 0 else d),)

    return attach(res, node_type("PowBackward2"), backward, (exponent,), (saved,))


def maximum(input, other, *, out=None):
    """Element-wise maximum (NaN propagates); ties split the gradient in half, as torch."""
    return _extremum(input, other, np.maximum, MaximumBackward0, out)


def minimum(input, other, *, out=None):
    return _extremum(input, other, np.minimum, MinimumBackward0, out)


def _extremum(input, other, np_fn, cls, out):
    if not isinstance(other, Tensor):
        raise TypeError(f"{np_fn.__name__}(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    x, y, rt = binary_operands(input, other)
    res = Tensor._make(_apply(np_fn, x, y, input, other))
    if out is not None:
        return write_out(out, res)
    if needs_grad(input, other):
        a, b = input, other

        def backward(g):
            # torch: the tie splits in half, the loser gets 0; NaN compares false, so both keep g
            a_loses, b_loses = (a < b, a > b) if np_fn is np.maximum else (a > b, a < b)
            gt = where(a == b, g * 0.5, g)
            return where(a_loses, 0.0, gt), where(b_loses, 0.0, gt)

        attach(res, cls, backward, (a, b), (a, b))
    return res


def fmax(input, other):
    x, y, rt = binary_operands(input, other)
    return Tensor._make(_apply(np.fmax, x, y, input, other))


def fmin(input, other):
    x, y, rt = binary_operands(input, other)
    return Tensor._make(_apply(np.fmin, x, y, input, other))


def atan2(input, other):
    x, y, rt = binary_operands(input, other)
    if not rt.is_floating_point:
        x, y = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)
    res = Tensor._make(_apply(np.arctan2, x, y, input, other))
    if needs_grad(input, _t(other)):
        a, b = input, other
        attach(res, node_type("Atan2Backward0"),
               lambda g: (g * b / (a * a + b * b), -g * a / (a * a + b * b)), (a, _t(b)), (a,))
    return res


# ---------------------------------------------------------------- where (a ternary element-wise op)
def where(condition, input=None, other=None):
    """Elements of ``input`` where ``condition`` else of ``other``; ``where(cond)`` is ``nonzero(as_tuple)``."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if isinstance(condition, Tensor) and condition.dtype is D.uint8:
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated and will be removed in a "
                      "future version of PyTorch. Use a boolean condition instead.", UserWarning, stacklevel=2)
        condition = Tensor._make(condition._data.astype(np.bool_))
    if not isinstance(condition, Tensor) or condition.dtype is not D.bool_:
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{condition.dtype.name.capitalize() if isinstance(condition, Tensor) else 'None'}")
    input, other = as_tensor_arg(input, "input"), as_tensor_arg(other)
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        rt = D.result_type(input, other)
        x, y = rt.np.type(input), rt.np.type(other)
    else:
        x, y, rt = binary_operands(input, other)
    c = condition._data
    try:
        arr = np.where(c, x, y)
    except ValueError:
        broadcast_shapes(c.shape, np.shape(x), np.shape(y))  # raises torch's error, condition first
        raise
    res = Tensor._make(np.asarray(arr, dtype=rt.np))
    ti = input if isinstance(input, Tensor) else None
    to = other if isinstance(other, Tensor) else None
    if needs_grad(ti, to):
        attach(res, node_type("WhereBackward0"),
               lambda g: (where(condition, g, 0.0) if ti is not None else None,
                          where(condition, 0.0, g) if to is not None else None), (ti, to))
    return res


# ---------------------------------------------------------------- operators
def _mul_fast(self, other):
    # the common case without autograd, a float tensor times a Python float/int, before mul's other checks
    t = type(other)
    if (t is float or t is int) and not self.requires_grad:
        dt = self._data.dtype
        if dt is _F32 or dt is _F64:
            return Tensor._make(ufunc2(np.multiply, self._data, other))
    return mul(self, other)


def _reflected(fn):
    def method(self, other):
        return fn(as_tensor_arg(other), self)

    method.__name__ = f"__r{fn.__name__}__"
    return method


def _rpow(self, other):
    return pow(other, self)


# ---------------------------------------------------------------- registry entries
register(add, inplace=True, out=True, dunders={"__add__": None, "__radd__": _reflected(add), "__iadd__": "add_"})
register(sub, aliases=("subtract",), inplace=True, out=True,
         dunders={"__sub__": None, "__rsub__": _reflected(sub), "__isub__": "sub_"})
register(mul, aliases=("multiply",), inplace=True, out=True,
         dunders={"__mul__": _mul_fast, "__rmul__": _reflected(mul), "__imul__": "mul_"})
register(div, aliases=("divide", "true_divide"), inplace=True, out=True,
         dunders={"__truediv__": None, "__rtruediv__": _reflected(div), "__itruediv__": "div_"})
register(floor_divide, inplace=True, out=True,
         dunders={"__floordiv__": None, "__rfloordiv__": _reflected(floor_divide), "__ifloordiv__": "floor_divide_"})
register(remainder, inplace=True, out=True,
         dunders={"__mod__": None, "__rmod__": _reflected(remainder), "__imod__": "remainder_"})
register(fmod, inplace=True)
register(pow, inplace=True, out=True, dunders={"__pow__": None, "__rpow__": _rpow, "__ipow__": "pow_"})
register(rsub)
register(maximum, minimum, inplace=True, out=True)
register(fmax, fmin, atan2)
register(where, method=lambda self, condition, other: where(condition, self, other))
