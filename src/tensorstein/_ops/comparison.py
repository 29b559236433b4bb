"""Comparisons, logical and bitwise ops (no gradient), with torch's type promotion and broadcasting.

>>> lt(tensor([1, 2]), 1.5)
tensor([ True, False])
"""
from __future__ import annotations

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ._common import apply_binary as _apply, as_tensor_arg, binary_operands, write_out
from ._registry import register
from .elementwise import _reflected
from .errors import broadcast_error

def _compare(np_fn, name):
    def op(input, other, *, out=None):
        other = as_tensor_arg(other)
        x, y, rt = binary_operands(input, other)
        res = Tensor._make(_apply(np_fn, x, y, input, other))
        return write_out(out, res) if out is not None else res

    op.__name__ = name
    return op


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")


def _logical(np_fn, name):
    cmp = _compare(np_fn, name)

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
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{rt.scalar_name}\'')
        return Tensor._make(_apply(np_fn, x, y, input, other))

    op.__name__ = name
    return op


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")


def logical_not(input):
    return Tensor._make(np.logical_not(input._data))


def bitwise_not(input):
    if input.is_floating_point():
        raise NotImplementedError(f"\"bitwise_not_cpu\" not implemented for '{input.dtype.scalar_name}'")
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


# ---------------------------------------------------------------- operators
def _invert(self):
    if self._data.dtype == np.bool_:
        return logical_not(self)
    if self.is_floating_point():
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return bitwise_not(self)


def _comparison_dunder(fn):
    # ``t == None`` or ``t == "x"`` falls back to identity, as in torch, instead of raising
    def method(self, other):
        if not isinstance(other, (Tensor, bool, int, float, np.generic, np.ndarray)):
            return NotImplemented
        return fn(self, other)

    return method


# ---------------------------------------------------------------- registry entries
for _fn, _alias, _dunder in ((eq, (), "__eq__"), (ne, ("not_equal",), "__ne__"), (lt, ("less",), "__lt__"),
                             (le, ("less_equal",), "__le__"), (gt, ("greater",), "__gt__"),
                             (ge, ("greater_equal",), "__ge__")):
    register(_fn, aliases=_alias, inplace=True, out=True,
             dunders={_dunder: _comparison_dunder(_fn) if _dunder in ("__eq__", "__ne__") else None})
register(logical_and, logical_or, logical_xor, inplace=True, out=True)
register(logical_not, inplace=True)
for _fn, _d in ((bitwise_and, "and"), (bitwise_or, "or"), (bitwise_xor, "xor")):
    register(_fn, inplace=True, dunders={f"__{_d}__": None, f"__r{_d}__": _reflected(_fn),
                                         f"__i{_d}__": f"{_fn.__name__}_"})
register(bitwise_not, inplace=True, dunders={"__invert__": _invert})
register(equal, returns="bool")
register(isclose)
register(allclose, returns="bool")
