"""Element-wise binary ops with torch's type promotion and broadcasting, each with its backward.

>>> add(tensor([1, 2]), 1.5)
tensor([2.5000, 3.5000])
"""
from __future__ import annotations

import numpy as np

from .. import _dtype as D
from .._autograd.grad_mode import STATE
from .._autograd.graph import attach, node_type, needs_grad
from .._tensor import Tensor
from .errors import broadcast_error

_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)


def scalar_value(x):
    """A Python scalar from a Python/NumPy scalar (NumPy scalars act as Python numbers, as in torch)."""
    return x.item() if isinstance(x, np.generic) else x


def as_tensor_arg(x, name: str = "other"):
    """Accept a Tensor or a Python scalar; anything else is a TypeError naming the argument."""
    if isinstance(x, Tensor) or isinstance(x, _SCALARS):
        return scalar_value(x)
    if isinstance(x, np.ndarray):
        return Tensor._make(x)
    raise TypeError(f"{name} must be a Tensor or a number, not {type(x).__name__}")


def _cast_scalar(s, d: D.dtype):
    """A Python scalar as an array scalar of ``d``, wrapping integers as torch does."""
    if d._category == 1 and isinstance(s, int) and not isinstance(s, bool):
        return np.array(s, dtype=np.int64).astype(d.np)
    return d.np.type(s)


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
            return x, b, td  # NEP 50: a Python number keeps the float array's dtype
        sd = D.scalar_dtype(b)
        if sd._category <= td._category:
            return x, _cast_scalar(b, td), td
        rt = D.result_type(a, b)
        return x.astype(rt.np), _cast_scalar(b, rt), rt
    if isinstance(b, Tensor):
        y, x, rt = binary_operands(b, a)
        return x, y, rt
    raise TypeError("at least one operand must be a Tensor")


def _apply(np_fn, x, y, a, b):
    try:
        return np_fn(x, y)
    except ValueError:
        sa = a._data.shape if isinstance(a, Tensor) else ()
        sb = b._data.shape if isinstance(b, Tensor) else ()
        raise broadcast_error(sa, sb) from None


def _t(x):
    return x if isinstance(x, Tensor) else None


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


def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other`` with broadcasting and type promotion."""
    other = as_tensor_arg(other)
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    x, y, rt = binary_operands(input, other)
    res = Tensor._make(_apply(np.add, x, y, input, other))
    if out is not None:
        return _write_out(out, res)
    return attach(res, AddBackward0, lambda g: (g, g), (_t(input), _t(other)))


def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other``."""
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
        return _write_out(out, res)
    return attach(res, SubBackward0, lambda g: (g, -g), (_t(input), _t(other)))


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
    res = Tensor._make(np.subtract(y, x))
    return attach(res, RsubBackward1, lambda g: (-g if alpha == 1 else g * -alpha,), (input,))


def mul(input, other, *, out=None):
    """Element-wise product ``C_ij = A_ij * B_ij`` with broadcasting."""
    other = as_tensor_arg(other)
    x, y, rt = binary_operands(input, other)
    res = Tensor._make(_apply(np.multiply, x, y, input, other) if rt is not D.bool_ else np.logical_and(x, y))
    if out is not None:
        return _write_out(out, res)
    if STATE.enabled:
        a, b = input, other
        ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
        ra, rb = ta and a.requires_grad, tb and b.requires_grad
        if ra and rb:
            res.requires_grad = True
            res.grad_fn = MulBackward0(lambda g: (g * b, g * a), (a, b), (a, b))
        elif ra:
            res.requires_grad = True
            res.grad_fn = MulBackward0(lambda g: (g * b, None), (a, b if tb else None), (b,) if tb else ())
        elif rb:
            res.requires_grad = True
            res.grad_fn = MulBackward0(lambda g: (None, g * a), (a if ta else None, b), (a,) if ta else ())
    return res


def _wants(x):
    return isinstance(x, Tensor) and x.requires_grad


def div(input, other, *, rounding_mode=None, out=None):
    """True division (ints give the default float); ``rounding_mode`` 'trunc' or 'floor'."""
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
        return _write_out(out, res)
    if needs_grad(_t(input), _t(other)):
        a, b = input, other
        attach(res, DivBackward0,
               lambda g: (g / b if _wants(a) else None, -g * a / (b * b) if _wants(b) else None),
               (_t(a), _t(b)), tuple(t for t in (a, b) if isinstance(t, Tensor)))
    return res


def _rounded_div(input, other, mode, out):
    x, y, rt = binary_operands(input, other)
    if rt is D.bool_:
        raise NotImplementedError(f"\"div_{mode}_cpu\" not implemented for 'Bool'")
    if rt._category == 1 and np.any(np.asarray(y) == 0):
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
    res = _write_out(out, res) if out is not None else res
    return res


def floor_divide(input, other, *, out=None):
    return div(input, other, rounding_mode="floor", out=out)


def remainder(input, other, *, out=None):
    """Python-style modulus: the result has the sign of the divisor."""
    other = as_tensor_arg(other)
    x, y, rt = binary_operands(input, other)
    if rt is D.bool_:
        raise NotImplementedError("\"remainder_cpu\" not implemented for 'Bool'")
    if rt._category == 1 and np.any(np.asarray(y) == 0):
        raise RuntimeError("ZeroDivisionError")
    with np.errstate(divide="ignore", invalid="ignore"):
        res = Tensor._make(_apply(np.remainder, x, y, input, other))
    if out is not None:
        return _write_out(out, res)
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
    with np.errstate(divide="ignore", invalid="ignore"):
        res = Tensor._make(_apply(np.fmod, x, y, input, other))
    return attach(res, node_type("FmodBackward0"), lambda g: (g, None), (_t(input), None))


def pow(input, exponent, *, out=None):
    """``input ** exponent``; integer tensors to negative integer powers raise, as in torch."""
    exponent = as_tensor_arg(exponent, "exponent")
    if not isinstance(input, Tensor):
        return _scalar_pow(input, exponent)
    x, y, rt = binary_operands(input, exponent)
    if rt._category == 1 and np.any(np.asarray(y) < 0):
        if not isinstance(exponent, Tensor):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        res = Tensor._make(_int_pow(x, y, input, exponent))
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            res = Tensor._make(_apply(np.power, x, y, input, exponent))
    if out is not None:
        return _write_out(out, res)
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
            from .unary import log
            ap = a if a.dtype is saved.dtype else a.to(saved.dtype)  # torch takes the log in the result dtype
            gb = g * saved * where_((a == 0) & (e >= 0), 0.0, log(ap))
        return ga, gb

    return attach(res, PowBackward1, backward, (a, e), (a, e, saved))


def where_(cond, x, y):
    from .indexing import where
    return where(cond, x, y)


def _int_pow(x, y, a, b):
    """Integer ``x ** y`` with negative exponents as torch computes them: 1 and -1 keep a unit, others give 0."""
    x, y = np.asarray(x), np.asarray(y)
    neg = y < 0
    with np.errstate(over="ignore"):
        out = _apply(np.power, x, np.where(neg, 0, y).astype(y.dtype), a, b)
    unit = np.where(x == 1, 1, np.where(x == -1, np.where(y % 2 == 0, 1, -1), 0)).astype(out.dtype)
    return np.where(neg, unit, out)


def _scalar_pow(base, exponent: Tensor):
    x, y, rt = binary_operands(exponent, base)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if rt._category == 1 and np.any(x < 0):
            res = Tensor._make(np.asarray(_int_pow(y, x, base, exponent)))
        else:
            res = Tensor._make(np.power(y, x))
    saved = res.detach()
    import math
    logb = math.log(base) if base > 0 else float("nan")
    return attach(res, node_type("PowBackward2"), lambda g: (g * saved * logb,), (exponent,), (saved,))


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
        return _write_out(out, res)
    if needs_grad(input, other):
        a, b = input, other

        def backward(g):
            from .indexing import where
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


# ---------------------------------------------------------------- comparisons and logic (no gradient)
def _compare(np_fn):
    def op(input, other, *, out=None):
        other = as_tensor_arg(other)
        x, y, rt = binary_operands(input, other)
        res = Tensor._make(_apply(np_fn, x, y, input, other))
        return _write_out(out, res) if out is not None else res

    op.__name__ = np_fn.__name__
    return op


eq = _compare(np.equal)
ne = _compare(np.not_equal)
lt = _compare(np.less)
le = _compare(np.less_equal)
gt = _compare(np.greater)
ge = _compare(np.greater_equal)
def _logical(np_fn, name):
    cmp = _compare(np_fn)

    def op(input, other, *, out=None):
        if not isinstance(other, Tensor):  # torch takes no Python scalar here
            raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
        return cmp(input, other, out=out)

    op.__name__ = name
    return op


logical_and = _logical(np.logical_and, "logical_and")
logical_or = _logical(np.logical_or, "logical_or")
logical_xor = _logical(np.logical_xor, "logical_xor")


def _bitwise(np_fn, name):
    def op(input, other):
        other = as_tensor_arg(other)
        x, y, rt = binary_operands(input, other)
        if rt.is_floating_point:
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{_torch_name(rt)}\'')
        return Tensor._make(_apply(np_fn, x, y, input, other))

    return op


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")


def logical_not(input):
    return Tensor._make(np.logical_not(input._data))


def bitwise_not(input):
    if input.is_floating_point():
        raise NotImplementedError(f"\"bitwise_not_cpu\" not implemented for '{_torch_name(input.dtype)}'")
    return Tensor._make(np.invert(input._data))


def equal(input, other) -> bool:
    """True when both tensors have the same shape and elements."""
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{input.dtype} did not match {other.dtype}")
    x, y = input._data, other._data
    if x.dtype == D.bfloat16.np or x.dtype == np.float16:
        x, y = x.astype(np.float32), y.astype(np.float32)
    try:
        return Tensor._make(np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan))
    except ValueError:
        raise broadcast_error(x.shape, y.shape) from None


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


# ---------------------------------------------------------------- out= and in-place support
def _write_out(out, res):
    """Copy a result into ``out=`` (resized when its shape differs, as torch does for empty outs)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"out must be a Tensor, not {type(out).__name__}")
    if needs_grad(res) or (out.requires_grad and out.grad_fn is None and _grad_on()):
        raise RuntimeError("out=... arguments don't support automatic differentiation, but one of the arguments "
                           "requires grad.")
    if out.dtype._category < res.dtype._category:
        raise RuntimeError(f"result type {_torch_name(res.dtype)} can't be cast to the desired output type "
                           f"{_torch_name(out.dtype)}")
    if out._data.shape != res._data.shape:
        out._data = np.empty(res._data.shape, dtype=out._data.dtype)
    np.copyto(out._data, res._data, casting="unsafe")
    out._version[0] += 1
    return out


def _grad_on():
    from .._autograd.grad_mode import STATE
    return STATE.enabled


_TORCH_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                       "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                       "bool": "Bool"}


def _torch_name(d: D.dtype) -> str:
    return _TORCH_SCALAR_NAMES[d.name]


def inplace(self, fn, *args, **kwargs):
    """Run ``fn(self, *args)`` out of place, then write the result into ``self``, as torch's ``op_``.

    The autograd history of ``self`` is rebased onto the new node; a leaf that requires grad refuses.
    """
    if not isinstance(self, Tensor):
        raise TypeError("in-place operations need a Tensor")
    grad_on = _grad_on()
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
        # torch's clamp_ names the output type the C++ way ("long int"), the other ops the ATen way ("Long")
        cpp = getattr(fn, "__name__", "") in ("clamp", "clamp_min", "clamp_max", "clip")
        from .linalg import _CPP_NAMES
        raise RuntimeError(f"result type {_torch_name(res.dtype)} can't be cast to the desired output type "
                           f"{_CPP_NAMES[self.dtype.name] if cpp else _torch_name(self.dtype)}")
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
