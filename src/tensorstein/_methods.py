"""Attach the ops to ``Tensor`` as methods, operators and in-place ``op_`` variants."""
from __future__ import annotations

import numpy as np

from ._autograd.grad_mode import STATE
from ._ops import creation as C
from ._ops import elementwise as E
from ._ops import indexing as I
from ._ops import linalg as L
from ._ops import reduction as R
from ._ops import shape as S
from ._ops import sorting as O
from ._ops import unary as U
from ._tensor import Tensor

# ---------------------------------------------------------------- plain methods: name -> function(self, ...)
_METHODS = {
    # element-wise
    "add": E.add, "sub": E.sub, "subtract": E.sub, "mul": E.mul, "multiply": E.mul, "div": E.div,
    "divide": E.div, "true_divide": E.div, "floor_divide": E.floor_divide, "remainder": E.remainder,
    "fmod": E.fmod, "pow": E.pow, "maximum": E.maximum, "minimum": E.minimum, "fmax": E.fmax, "fmin": E.fmin,
    "atan2": E.atan2, "eq": E.eq, "ne": E.ne, "lt": E.lt, "le": E.le, "gt": E.gt, "ge": E.ge,
    "greater": E.gt, "greater_equal": E.ge, "less": E.lt, "less_equal": E.le, "not_equal": E.ne,
    "logical_and": E.logical_and, "logical_or": E.logical_or, "logical_xor": E.logical_xor,
    "logical_not": E.logical_not, "bitwise_and": E.bitwise_and, "bitwise_or": E.bitwise_or,
    "bitwise_xor": E.bitwise_xor, "bitwise_not": E.bitwise_not, "equal": E.equal, "isclose": E.isclose,
    "allclose": E.allclose, "rsub": E.rsub,
    "neg": U.neg, "negative": U.neg, "abs": U.abs, "absolute": U.abs, "exp": U.exp, "exp2": U.exp2,
    "expm1": U.expm1, "log": U.log, "log2": U.log2, "log10": U.log10, "log1p": U.log1p, "sqrt": U.sqrt,
    "rsqrt": U.rsqrt, "sin": U.sin, "cos": U.cos, "tan": U.tan, "tanh": U.tanh, "sigmoid": U.sigmoid,
    "asin": U.asin, "acos": U.acos, "atan": U.atan, "sinh": U.sinh, "cosh": U.cosh, "erf": U.erf,
    "reciprocal": U.reciprocal, "relu": U.relu, "sign": U.sign, "floor": U.floor, "ceil": U.ceil,
    "trunc": U.trunc, "frac": U.frac, "square": U.square, "round": U.round, "clamp": U.clamp, "clip": U.clamp,
    "clamp_min": U.clamp_min, "clamp_max": U.clamp_max, "isnan": U.isnan, "isinf": U.isinf,
    "isfinite": U.isfinite, "isposinf": U.isposinf, "isneginf": U.isneginf, "nan_to_num": U.nan_to_num,
    # reductions
    "sum": R.sum, "nansum": R.nansum, "mean": R.mean, "prod": R.prod, "max": R.max, "min": R.min,
    "amax": R.amax, "amin": R.amin, "argmax": R.argmax, "argmin": R.argmin, "var": R.var, "std": R.std,
    "norm": R.norm, "logsumexp": R.logsumexp, "cumsum": R.cumsum, "cumprod": R.cumprod, "all": R.all,
    "any": R.any, "softmax": R.softmax, "log_softmax": R.log_softmax, "count_nonzero": R.count_nonzero,
    # sorting
    "sort": O.sort, "argsort": O.argsort, "msort": O.msort, "topk": O.topk, "kthvalue": O.kthvalue,
    "median": O.median, "nanmedian": O.nanmedian, "mode": O.mode, "unique": O.unique,
    "unique_consecutive": O.unique_consecutive,
    # shape
    "view": S.view, "view_as": S.view_as, "reshape": S.reshape, "reshape_as": S.reshape_as,
    "flatten": S.flatten, "unflatten": S.unflatten, "squeeze": S.squeeze, "unsqueeze": S.unsqueeze,
    "transpose": S.transpose, "swapaxes": S.transpose, "swapdims": S.transpose, "permute": S.permute,
    "movedim": S.movedim, "moveaxis": S.movedim, "t": S.t, "adjoint": S.adjoint, "expand": S.expand,
    "expand_as": S.expand_as, "broadcast_to": S.broadcast_to, "repeat": S.repeat, "contiguous": S.contiguous,
    "clone": S.clone, "flip": S.flip, "roll": S.roll, "tril": S.tril, "triu": S.triu, "narrow": S.narrow,
    "split": S.split, "chunk": S.chunk, "tensor_split": S.tensor_split, "unbind": S.unbind,
    # indexing
    "gather": I.gather, "scatter": I.scatter, "scatter_add": I.scatter_add, "index_select": I.index_select,
    "index_add": I.index_add, "index_put": I.index_put, "masked_fill": I.masked_fill,
    "masked_select": I.masked_select, "nonzero": I.nonzero, "argwhere": I.argwhere, "select": I.select,
    "take": I.take, "take_along_dim": I.take_along_dim,
    "where": lambda self, condition, other: I.where(condition, self, other),
    # products
    "matmul": L.matmul, "mm": L.mm, "bmm": L.bmm, "mv": L.mv, "dot": L.dot, "vdot": L.vdot, "inner": L.inner,
    "outer": L.outer, "ger": L.outer, "addmm": L.addmm, "addmv": L.addmv, "addbmm": L.addbmm,
    "baddbmm": L.baddbmm, "addr": L.addr,
    # conversion and creation
    "to": C.to, "type_as": lambda self, other: C.to_dtype(self, other.dtype),
    "new_zeros": lambda self, *size, dtype=None, **kw: C.zeros(*size, dtype=dtype or self.dtype, **kw),
    "new_ones": lambda self, *size, dtype=None, **kw: C.ones(*size, dtype=dtype or self.dtype, **kw),
    "new_empty": lambda self, *size, dtype=None, **kw: C.empty(*size, dtype=dtype or self.dtype, **kw),
    "new_full": lambda self, size, fill_value, dtype=None, **kw: C.full(size, fill_value,
                                                                       dtype=dtype or self.dtype, **kw),
    "new_tensor": lambda self, data, dtype=None, **kw: C.tensor(data, dtype=dtype or self.dtype, **kw),
    "normal_": C.normal_, "uniform_": C.uniform_, "zero_": C.zero_, "fill_": C.fill_, "random_": C.random_,
    "bernoulli_": C.bernoulli_, "exponential_": C.exponential_, "bernoulli": C.bernoulli,
    "multinomial": C.multinomial,
}

_CASTS = {"float": "float32", "double": "float64", "half": "float16", "bfloat16": "bfloat16", "long": "int64",
          "int": "int32", "short": "int16", "char": "int8", "byte": "uint8", "bool": "bool"}

# in-place variants computed out of place then written back (autograd-aware)
_INPLACE = ["add", "sub", "mul", "div", "pow", "remainder", "fmod", "floor_divide", "neg", "abs", "exp", "log",
            "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "sign", "floor", "ceil", "trunc",
            "round", "clamp", "clamp_min", "clamp_max", "masked_fill", "maximum", "minimum", "reciprocal",
            "square", "tril", "triu", "scatter", "scatter_add", "index_add", "index_put", "logical_not",
            "exp2", "expm1", "log2", "log10", "tan", "atan", "asin", "acos", "sinh", "cosh", "erf", "frac",
            "nan_to_num", "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_xor",
            "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not"]


def _make_inplace(fn):
    def method(self, *args, **kwargs):
        return E.inplace(self, fn, *args, **kwargs)

    return method


def _make_cast(dtype_name):
    from . import _dtype as D
    d = D._BY_NAME[dtype_name]

    def method(self, memory_format=None):
        return C.to_dtype(self, d)

    return method


def _t_property(self):
    n = self._data.ndim
    return S.permute(self, tuple(range(n - 1, -1, -1))) if n != 2 else S.t(self)


def _mT(self):
    if self._data.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self._data.ndim}-D "
                           "tensor.")
    return S.transpose(self, -2, -1)


def _matmul_fast(self, other):
    # the common case without autograd: two same-dtype float32/64 tensors
    if type(other) is Tensor and not (STATE.enabled and (self.requires_grad or other.requires_grad)):
        x, y = self._data, other._data
        if x.dtype is y.dtype and x.ndim == 2 and y.ndim == 2 and x.shape[1] == y.shape[0] and \
                (x.dtype.char == "f" or x.dtype.char == "d"):
            return Tensor._make(np.matmul(x, y))
    if not isinstance(other, Tensor):
        return NotImplemented
    return L.matmul(self, other)


def _mul_fast(self, other):
    # the common case without autograd: a float tensor times a Python float/int, or same-dtype tensors
    t = type(other)
    if not (STATE.enabled and self.requires_grad):
        x = self._data
        if (t is float or t is int) and x.dtype.kind == "f" and x.dtype.char in "fd":
            return Tensor._make(np.multiply(x, other))
    return E.mul(self, other)


def _masked_fill_(self, mask, value):
    # in place, torch names the tensors the other way round in a broadcast error (self is "a")
    if isinstance(mask, Tensor) and mask._data.dtype == np.bool_ and mask._data.shape != self._data.shape:
        try:
            np.broadcast_shapes(self._data.shape, mask._data.shape)
        except ValueError:
            from ._ops.errors import broadcast_error
            raise broadcast_error(self._data.shape, mask._data.shape) from None
    return E.inplace(self, I.masked_fill, mask, value)


def _invert(self):
    if self._data.dtype == np.bool_:
        return E.logical_not(self)
    if self.is_floating_point():
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return E.bitwise_not(self)


def _reflected(fn):
    def method(self, other):
        other = E.as_tensor_arg(other)
        return fn(other, self)

    return method




def _comparison_dunder(fn):
    # ``t == None`` or ``t == "x"`` falls back to identity, as in torch, instead of raising
    def method(self, other):
        if not isinstance(other, (Tensor, bool, int, float, np.generic, np.ndarray)):
            return NotImplemented
        return fn(self, other)

    return method


def _rpow(self, other):
    return E.pow(other, self)


def install() -> None:
    for name, fn in _METHODS.items():
        setattr(Tensor, name, fn)
    for name in _INPLACE:
        setattr(Tensor, name + "_", _make_inplace(getattr(Tensor, name)))
    Tensor.masked_fill_ = _masked_fill_
    setattr(Tensor, "clip_", Tensor.clamp_)
    for name, dtype_name in _CASTS.items():
        setattr(Tensor, name, _make_cast(dtype_name))
    Tensor.T = property(_t_property)
    Tensor.mT = property(_mT)
    Tensor.H = Tensor.T
    Tensor.mH = Tensor.mT
    Tensor.copy_ = _copy_
    Tensor.type = _type
    Tensor.__getitem__ = I.getitem
    Tensor.__setitem__ = I.setitem
    ops = {
        "__add__": E.add, "__sub__": E.sub, "__truediv__": E.div, "__floordiv__": E.floor_divide,
        "__mod__": E.remainder, "__pow__": E.pow, "__eq__": E.eq, "__ne__": E.ne, "__lt__": E.lt,
        "__le__": E.le, "__gt__": E.gt, "__ge__": E.ge, "__and__": E.bitwise_and, "__or__": E.bitwise_or,
        "__xor__": E.bitwise_xor,
    }
    for name, fn in ops.items():
        setattr(Tensor, name, fn)
    Tensor.__mul__ = _mul_fast
    Tensor.__eq__ = _comparison_dunder(E.eq)
    Tensor.__ne__ = _comparison_dunder(E.ne)
    Tensor.__matmul__ = _matmul_fast
    Tensor.__rmatmul__ = lambda self, other: L.matmul(other, self) if isinstance(other, Tensor) else NotImplemented
    for name, fn in {"__radd__": E.add, "__rsub__": E.sub, "__rmul__": E.mul, "__rtruediv__": E.div,
                     "__rfloordiv__": E.floor_divide, "__rmod__": E.remainder, "__rand__": E.bitwise_and,
                     "__ror__": E.bitwise_or, "__rxor__": E.bitwise_xor}.items():
        setattr(Tensor, name, _reflected(fn))
    Tensor.__rpow__ = _rpow
    Tensor.__neg__ = U.neg
    Tensor.__pos__ = lambda self: self
    Tensor.__abs__ = U.abs
    Tensor.__invert__ = _invert
    for name, fn in {"__iadd__": "add_", "__isub__": "sub_", "__imul__": "mul_", "__itruediv__": "div_",
                     "__ifloordiv__": "floor_divide_", "__imod__": "remainder_", "__ipow__": "pow_",
                     "__iand__": "bitwise_and_", "__ior__": "bitwise_or_", "__ixor__": "bitwise_xor_"}.items():
        setattr(Tensor, name, getattr(Tensor, fn))
    Tensor.__imatmul__ = lambda self, other: self.copy_(L.matmul(self, other))


def _type(self, dtype=None, non_blocking=False):
    """No argument: the legacy type name (``'tensorstein.FloatTensor'``); else convert to ``dtype``
    (a dtype or a legacy name such as ``'torch.DoubleTensor'``)."""
    from ._ops.errors import torch_type_name
    if dtype is None:
        return torch_type_name(self).replace("torch.", "tensorstein.")
    if isinstance(dtype, str):
        from . import _dtype as D
        by_name = {torch_type_name(C.zeros(0, dtype=d)).split(".")[1]: d for d in D.ALL_DTYPES}
        key = dtype.rsplit(".", 1)[-1]
        if key not in by_name:
            raise ValueError(f"invalid type: '{dtype}'")
        dtype = by_name[key]
    return C.to_dtype(self, dtype)


def _copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, converted) into ``self`` in place."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'other' must be Tensor, not {type(src).__name__}")
    try:
        np.broadcast_to(src._data, self._data.shape)
    except ValueError:
        from ._ops.errors import broadcast_error
        raise broadcast_error(self._data.shape, src._data.shape) from None

    def replace(old, value):
        return S.expand(C.to_dtype(value, old.dtype), old._data.shape).clone()

    return E.inplace(self, replace, src)
