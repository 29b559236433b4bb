"""Element-wise unary ops, each with its backward.

>>> exp(tensor([0.0, 1.0]))
tensor([1.0000, 2.7183])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import _dtype as D
from .._autograd.grad_mode import grad_enabled
from .._autograd.graph import attach, node_type, needs_grad
from .._kernels.lazy import PARALLEL_MIN, kernels
from .._kernels.parallel import get_num_threads
from .._tensor import Tensor
from ._common import (
    binary_operands,
    check_tensor,
    entry,
    float_input,
    quiet,
    serial_below,
    small_map2,
    split_unary,
    write_out,
)
from ._registry import register
from .elementwise import maximum, minimum

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


@dataclass(frozen=True)
class Unary:
    """One element-wise unary op as data.

    ``forward(x) -> y`` works on arrays (NumPy today; a Numba kernel plugs in here). ``backward(g, x, y)`` is
    the gradient written with tensor ops, so ``create_graph=True`` differentiates it again. ``fused_backward``,
    optional, computes the same gradient on arrays ``(g, x, y) -> dx`` and is used when ``create_graph`` is off.
    ``floating``: integer/bool inputs compute in the default float dtype; otherwise the dtype is kept.
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[Any, Any, Any], Any]
    node: str  # torch's grad_fn name
    uses_output: bool = False  # the backward reads ``y`` (saved, detached) instead of ``x``
    floating: bool = True
    fused_backward: Callable[[np.ndarray, np.ndarray, Any], np.ndarray] | None = None
    aliases: tuple[str, ...] = ()
    dunders: tuple[str, ...] = ()  # operators that are this op (``__neg__``)
    warns: bool = True  # NumPy may flag FP errors (run quietly); False for Numba kernels
    small: str | None = None  # ``"module.kernel"`` ``(x, out)``: float32/float64 inputs one thread runs (entry point)


def unary_op(rec: Unary) -> Callable[..., Any]:
    """The op function of a ``Unary`` record, registered (function, method, ``op_``)."""
    cls = node_type(rec.node)
    forward, backward, fused, uses_output = rec.forward, rec.backward, rec.fused_backward, rec.uses_output
    prepare = float_input if rec.floating else _same
    if rec.warns:
        fwd, fused_q = forward, fused
        forward = lambda x: quiet(fwd, x)  # noqa: E731
        fused = None if fused_q is None else (lambda g, x, y: quiet(fused_q, g, x, y))
    small = rec.small
    eps: dict = {}  # dtype -> the entry point of ``small``

    def op(input, *, out=None):
        if not isinstance(input, Tensor):
            check_tensor(input, rec.name)
        x = input._data
        dt = x.dtype
        if small is not None and (dt is _F32 or dt is _F64) and (
                x.size < PARALLEL_MIN or get_num_threads() == 1 or x.size < serial_below(small)):
            ep = eps.get(dt) or eps.setdefault(dt, entry(small, dt, (1, 1)))
            arr = np.empty(x.shape, dt)
            ep(x.ravel(), arr.ravel())
            res = Tensor._make(arr)
        else:
            res = Tensor._make(forward(x if dt is _F32 else prepare(x)))
        if out is not None:
            return write_out(out, res)
        if input.requires_grad and grad_enabled():
            y = res.detach() if uses_output else None
            x = input

            def backward_fn(g):
                if not grad_enabled():  # no create_graph: a fused array backward may run instead
                    if fused is not None:
                        return (Tensor._make(fused(g._data, x._data, None if y is None else y._data)),)
                    return (backward(g, x, y),)
                # create_graph: the saved output is detached, so recompute it with its graph
                return (backward(g, x, op(x) if uses_output else y),)

            attach(res, cls, backward_fn, (input,), (y,) if uses_output else (input,))
        return res

    op.__name__ = op.__qualname__ = rec.name
    op.__doc__ = f"Element-wise {rec.name}" + ("." if rec.floating else "; keeps the input dtype.")
    register(op, aliases=rec.aliases, inplace=True, out=True, dunders=dict.fromkeys(rec.dunders))
    return op


def _same(x: np.ndarray) -> np.ndarray:
    return x


def _floating_unary(name, np_fn, backward, node_name, uses_output=False) -> Callable[..., Any]:
    return unary_op(Unary(name, np_fn, backward, node_name, uses_output))


def _np_rsqrt(x):
    return x.dtype.type(1) / np.sqrt(x)


exp = unary_op(Unary("exp", lambda x: kernels("pointwise").exp32(x) if x.dtype is _F32 else quiet(np.exp, x),
                     lambda g, x, y: g * y, "ExpBackward0", uses_output=True, warns=False))
exp2 = _floating_unary("exp2", np.exp2, lambda g, x, y: g * y * 0.6931471805599453, "Exp2Backward0", True)
expm1 = _floating_unary("expm1", np.expm1, lambda g, x, y: g * (y + 1.0), "Expm1Backward0", uses_output=True)
log = _floating_unary("log", np.log, lambda g, x, y: g / x, "LogBackward0")
log2 = _floating_unary("log2", np.log2, lambda g, x, y: g / (x * 0.6931471805599453), "Log2Backward0")
log10 = _floating_unary("log10", np.log10, lambda g, x, y: g / (x * 2.302585092994046), "Log10Backward0")
log1p = _floating_unary("log1p", np.log1p, lambda g, x, y: g / (x + 1.0), "Log1PBackward0")
sqrt = _floating_unary("sqrt", np.sqrt, lambda g, x, y: g / (y * 2.0), "SqrtBackward0", uses_output=True)
rsqrt = _floating_unary("rsqrt", _np_rsqrt, lambda g, x, y: g * y * y * y * -0.5, "RsqrtBackward0", True)
sin = _floating_unary("sin", np.sin, lambda g, x, y: g * x.cos(), "SinBackward0")
cos = _floating_unary("cos", np.cos, lambda g, x, y: -g * sin(x), "CosBackward0")
tan = _floating_unary("tan", np.tan, lambda g, x, y: g * (y * y + 1.0), "TanBackward0", uses_output=True)
tanh = unary_op(Unary("tanh", lambda x: np.tanh(x) if x.size < PARALLEL_MIN else kernels("activations").tanh(x),
                      lambda g, x, y: g * (1.0 - y * y), "TanhBackward0", uses_output=True, warns=False,
                      fused_backward=lambda g, x, y: kernels("activations").tanh_backward(g, x, y)))
sigmoid = unary_op(Unary("sigmoid", lambda x: kernels("activations").sigmoid(x), lambda g, x, y: g * y * (1.0 - y),
                         "SigmoidBackward0", uses_output=True, warns=False, small="activations._sigmoid_k",
                         fused_backward=lambda g, x, y: kernels("activations").sigmoid_backward(g, x, y)))
asin = _floating_unary("asin", np.arcsin, lambda g, x, y: g * rsqrt(1.0 - x * x), "AsinBackward0")
acos = _floating_unary("acos", np.arccos, lambda g, x, y: -g * rsqrt(1.0 - x * x), "AcosBackward0")
atan = _floating_unary("atan", np.arctan, lambda g, x, y: g / (x * x + 1.0), "AtanBackward0")
sinh = _floating_unary("sinh", np.sinh, lambda g, x, y: g * x.cosh(), "SinhBackward0")
cosh = _floating_unary("cosh", np.cosh, lambda g, x, y: g * sinh(x), "CoshBackward0")
reciprocal = _floating_unary("reciprocal", np.reciprocal, lambda g, x, y: -g * y * y, "ReciprocalBackward0", True)


erf = unary_op(Unary("erf", lambda x: kernels("activations").erf(x),
                     lambda g, x, y: g * exp(-x * x) * 1.1283791670955126, "ErfBackward0", warns=False,
                     small="activations._erf_k",
                     fused_backward=lambda g, x, y: kernels("activations").erf_backward(g, x)))


def _same_dtype_unary(name, np_fn, backward, node_name, aliases=(), dunders=()) -> Callable[..., Any]:
    return unary_op(Unary(name, np_fn, lambda g, x, y: backward(g, x), node_name, floating=False, aliases=aliases,
                          dunders=dunders))


def _zero_grad(g, x):
    return g * 0.0


def _np_neg(x):
    if x.dtype == np.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")
    return np.negative(x)


def _np_sign(x):
    if x.dtype == np.bool_:
        return x.copy()
    out = np.sign(x)
    if x.dtype.kind == "f" or x.dtype == D.bfloat16.np:
        out = np.where(np.isnan(x), np.zeros((), x.dtype), out)  # torch: sign(nan) == 0
    return out


def _no_bool(fn, kernel):
    """``fn`` that refuses bool input with torch's NotImplementedError for ``kernel``."""
    def op(x):
        if x.dtype == np.bool_:
            raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
        return fn(x)

    return op


def _floats_only(fn, kernel):
    """``fn`` that refuses integer and bool input with torch's NotImplementedError for ``kernel``."""
    def op(x):
        if x.dtype.kind in "iub":
            raise NotImplementedError(f"\"{kernel}\" not implemented for '{D._BY_NP[x.dtype].scalar_name}'")
        return fn(x)

    return op


def _np_keep_int(fn):
    return lambda x: x.copy() if x.dtype.kind in "iub" else fn(x)


neg = _same_dtype_unary("neg", _np_neg, lambda g, x: -g, "NegBackward0", ("negative",), ("__neg__",))
abs = _same_dtype_unary("abs", _no_bool(np.abs, "abs_cpu"), lambda g, x: g * x.sign(), "AbsBackward0", ("absolute",),
                        ("__abs__",))
sign = _same_dtype_unary("sign", _np_sign, _zero_grad, "SignBackward0")
floor = _same_dtype_unary("floor", _no_bool(_np_keep_int(np.floor), "floor_vml_cpu"), _zero_grad, "FloorBackward0")
ceil = _same_dtype_unary("ceil", _no_bool(_np_keep_int(np.ceil), "ceil_vml_cpu"), _zero_grad, "CeilBackward0")
trunc = _same_dtype_unary("trunc", _no_bool(_np_keep_int(np.trunc), "trunc_vml_cpu"), _zero_grad, "TruncBackward0")
frac = _same_dtype_unary("frac", _floats_only(lambda x: x - np.trunc(x), "frac_cpu"), lambda g, x: g, "FracBackward0")
square = _same_dtype_unary("square", lambda x: np.square(x.astype(np.int64) if x.dtype == np.bool_ else x),
                           lambda g, x: g * x * 2.0, "PowBackward0")  # bool squares to int64, as torch


def round(input, *, decimals: int = 0, out=None):
    """Round half to even (as torch); ``decimals`` shifts the rounding position."""
    check_tensor(input, "round")
    x = input._data
    if x.dtype == np.bool_:
        raise NotImplementedError("\"round_vml_cpu\" not implemented for 'Bool'")
    if x.dtype.kind in "iub":
        if decimals != 0:
            raise NotImplementedError(f"\"round_cpu\" not implemented for '{input.dtype.scalar_name}'")
        res = Tensor._make(x.copy())
    elif decimals == 0:
        res = Tensor._make(np.round(x))
    else:
        scale = x.dtype.type(10.0 ** decimals)
        res = Tensor._make(np.round(x * scale) / scale)
    if out is not None:
        return write_out(out, res)
    return attach(res, node_type("RoundBackward0" if decimals == 0 else "RoundBackward1"),
                  lambda g: (g * 0.0,), (input,))


_RELU: dict = {}  # dtype -> the relu kernel's entry point


def relu(input):
    """max(x, 0); keeps the dtype."""
    if not isinstance(input, Tensor):
        check_tensor(input, "relu")
    x = input._data
    dt = x.dtype
    big = False
    if (dt is _F32 or dt is _F64) and x.size >= PARALLEL_MIN and get_num_threads() > 1 and \
            (arr := split_unary("activations._relu_k", x)) is not None:  # large: over the team's threads
        big = True
    elif (dt is _F32 or dt is _F64) and (x.size < PARALLEL_MIN or get_num_threads() == 1 or
                                         x.size < serial_below("activations._relu_k")):  # no pool, no dispatch
        ep = _RELU.get(dt) or _RELU.setdefault(dt, entry("activations._relu_k", dt, (1, 1)))
        arr = np.empty(x.shape, dt)
        ep(x.ravel(), arr.ravel())
    elif dt is _F32 or dt is _F64 or dt == np.float32 or dt == np.float64:
        big = True
        arr = kernels("activations").relu(x)
    elif dt == np.bool_:
        raise RuntimeError("Boolean inputs not supported for relu")
    else:
        arr = np.maximum(x, dt.type(0))
    res = Tensor._make(arr)
    if input.requires_grad and grad_enabled():
        saved = res.detach()

        def backward(g):
            if not grad_enabled() and g._data.dtype == x.dtype and (dt is _F32 or dt is _F64):
                if big:
                    return (Tensor._make(kernels("activations").relu_backward(g._data, None, saved._data)),)
                if g._data.shape == x.shape:
                    return (Tensor._make(small_map2("activations._relu_bk", g._data, saved._data)),)
            # torch's threshold_backward zeroes where out <= 0, so a NaN passes its gradient through
            return (g * Tensor._make(~(saved._data <= 0)),)

        attach(res, node_type("ReluBackward0"), backward, (input,), (saved,))
    return res


def isnan(input):
    return Tensor._make(np.isnan(_as_float_view(input._data)))


def isinf(input):
    return Tensor._make(np.isinf(_as_float_view(input._data)))


def isfinite(input):
    return Tensor._make(np.isfinite(_as_float_view(input._data)))


def isposinf(input):
    x = _as_float_view(input._data)
    return Tensor._make(np.isposinf(x) if x.dtype.kind == "f" else np.zeros(x.shape, bool))


def isneginf(input):
    x = _as_float_view(input._data)
    return Tensor._make(np.isneginf(x) if x.dtype.kind == "f" else np.zeros(x.shape, bool))


def _as_float_view(x):
    return x.astype(np.float32) if x.dtype == D.bfloat16.np else x


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN to ``nan``, +-inf to ``posinf``/``neginf`` (default: the dtype's largest finite values)."""
    x = input._data
    if x.dtype == D.bfloat16.np:  # NumPy does not treat ml_dtypes' bfloat16 as a float here
        big = D.finfo(D.bfloat16).max
        arr = np.nan_to_num(x.astype(np.float32), nan=nan, posinf=big if posinf is None else posinf,
                            neginf=-big if neginf is None else neginf).astype(x.dtype)
    else:
        arr = np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)
    res = Tensor._make(arr)
    return attach(res, node_type("NanToNumBackward0"), lambda g: (g * isfinite(input),), (input,))


def clamp(input, min=None, max=None, *, out=None):
    """Limit values to [min, max]; min/max may be numbers or tensors (broadcast)."""
    check_tensor(input, "clamp")
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        res = input
        if min is not None:
            res = maximum(res, min if isinstance(min, Tensor) else _full_like(input, min))
        if max is not None:
            res = minimum(res, max if isinstance(max, Tensor) else _full_like(input, max))
        return write_out(out, res) if out is not None else res
    x = input._data
    lo = binary_operands(input, min)[1] if min is not None else None
    hi = binary_operands(input, max)[1] if max is not None else None
    rt = D.result_type(*(v for v in (input, min, max) if v is not None))
    if rt is not input.dtype:
        x = x.astype(rt.np)
        lo = None if min is None else rt.np.type(min)
        hi = None if max is None else rt.np.type(max)
    arr = x
    if lo is not None:
        arr = np.maximum(arr, lo)
    if hi is not None:
        arr = np.minimum(arr, hi)
    if arr.dtype != rt.np:  # a float16 input with a float32 bound (see ``binary_operands``) stays float16
        arr = arr.astype(rt.np)
    if arr is x:
        arr = x.copy()
    isnan_x = np.isnan(x) if x.dtype.kind == "f" else None
    if isnan_x is not None and isnan_x.any():
        arr = np.where(isnan_x, x, arr)
    res = Tensor._make(arr)
    if out is not None:
        return write_out(out, res)
    if needs_grad(input):
        inp = input

        def backward(g):
            keep = Tensor._make(np.ones(inp._data.shape, dtype=bool))
            if min is not None:
                keep = keep & (inp >= min)
            if max is not None:
                keep = keep & (inp <= max)
            return (g * keep,)

        name = "ClampBackward1" if (min is not None and max is not None) else (
            "ClampMinBackward0" if min is not None else "ClampMaxBackward0")
        attach(res, node_type(name), backward, (input,), (input,))
    return res


def _full_like(t, value):
    return Tensor._make(np.full(t._data.shape, value, dtype=t._data.dtype))


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)



register(round, inplace=True)
register(relu, inplace=True)
register(isnan, isinf, isfinite, isposinf, isneginf)
register(nan_to_num, inplace=True)
register(clamp, aliases=("clip",), inplace=True)
register(clamp_min, inplace=True)
register(clamp_max, inplace=True)


@register(dunders={"__pos__": None})
def positive(input):
    """``+input``: the tensor itself (bool tensors refuse, as in torch)."""
    if input._data.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input
