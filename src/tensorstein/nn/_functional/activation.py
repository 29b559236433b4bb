"""Activations: relu, gelu (exact and tanh, one op each with its own backward), silu, softmax, ...

``gelu`` has a fused forward/backward on NumPy arrays; ``_gelu_composite`` (built from tensor ops)
is its test oracle and its create_graph path.
"""
from __future__ import annotations


import numpy as np

from ..._autograd.grad_mode import STATE
from ..._autograd.graph import attach, needs_grad, node_type
from ..._ops import reduction as R
from ..._ops import unary as U
from ..._ops.indexing import where
from ..._tensor import Tensor

GeluBackward0 = node_type("GeluBackward0")
SiluBackward0 = node_type("SiluBackward0")

_SQRT1_2 = 0.7071067811865476
_SQRT_2_OVER_PI = 0.7978845608028654
_INV_SQRT_2PI = 0.3989422804014327

def _gelu_erf(x: np.ndarray, with_cdf: bool):
    """``(x * Phi(x), Phi(x) or None)`` for a float32/float64 array (GIL released)."""
    from . import _fused  # Numba: compiled (or loaded from cache) on first use

    flat = np.ascontiguousarray(x).reshape(-1)  # (N,)
    out = np.empty_like(flat)
    if flat.dtype == np.float32 and not with_cdf:
        _fused.gelu_f32(flat, out)
        return out.reshape(x.shape), None
    cdf = np.empty_like(flat)
    (_fused.gelu_cdf_f32 if flat.dtype == np.float32 else _fused.gelu_cdf_f64)(flat, out, cdf)
    return out.reshape(x.shape), cdf.reshape(x.shape)


def _float_only(input, kernel):
    """torch's dtype check of a floating-point-only activation kernel."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{input.dtype.scalar_name}'")


def _work(x):
    return x if x.dtype == np.float32 or x.dtype == np.float64 else x.astype(np.float32)


def relu(input, inplace: bool = False):
    return input.relu_() if inplace else U.relu(input)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    _float_only(input, "leaky_relu_cpu")
    return where(input > 0, input, input * negative_slope)


def elu(input, alpha=1.0, inplace=False):
    _float_only(input, "elu_cpu")
    return where(input > 0, input, (U.exp(input) - 1.0) * alpha)


def softplus(input, beta=1.0, threshold=20.0):
    _float_only(input, "softplus_cpu")
    z = input * beta
    return where(z > threshold, input, U.log1p(U.exp(z)) / beta)


def tanh(input):
    return U.tanh(input)


def sigmoid(input):
    return U.sigmoid(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if input.dtype.name == "bool":
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if not input.dtype.is_floating_point:  # torch casts the bounds to the integer dtype
        min_val, max_val = int(min_val), int(max_val)
        if input.dtype.name == "uint8" and (min_val < 0 or max_val < 0):
            raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
    return U.clamp(input, min_val, max_val)


def _gelu_composite(input, approximate: str = "none"):
    """GELU from tensor ops (the oracle for the fused op, differentiable to any order)."""
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * _SQRT_2_OVER_PI
        return input * 0.5 * (U.tanh(inner) + 1.0)
    return input * 0.5 * (U.erf(input * _SQRT1_2) + 1.0)


def gelu(input, approximate: str = "none"):
    """x * Phi(x) (``approximate='none'``, exact erf) or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _float_only(input, "GeluKernelImpl")
    x = input._data
    xw = _work(x)
    one = xw.dtype.type(1)
    half = xw.dtype.type(0.5)
    if approximate == "tanh":
        k = xw.dtype.type(_SQRT_2_OVER_PI)
        c = xw.dtype.type(0.044715)
        x2 = xw * xw
        t = np.tanh(k * xw * (one + c * x2))
        out = half * xw * (one + t)
    else:
        out, cdf = _gelu_erf(xw, needs_grad(input))
    res = Tensor._make(out.astype(x.dtype, copy=False))
    if needs_grad(input):
        def backward(g):
            if STATE.enabled:  # create_graph: the derivative from tensor ops (differentiable again)
                if approximate == "tanh":
                    inner = (input + input * input * input * 0.044715) * _SQRT_2_OVER_PI
                    th = U.tanh(inner)
                    dd = (th + 1.0) * 0.5 + input * 0.5 * (1.0 - th * th) * _SQRT_2_OVER_PI * (
                        input * input * (3 * 0.044715) + 1.0)
                else:
                    dd = (U.erf(input * _SQRT1_2) + 1.0) * 0.5 + input * U.exp(input * input * -0.5) * _INV_SQRT_2PI
                return (g * dd,)
            gd = g._data
            if approximate == "tanh":
                dt = one - t * t
                d = half * (one + t) + half * xw * dt * k * (one + xw.dtype.type(3) * c * x2)
            else:
                d = cdf + xw * np.exp(-half * xw * xw) * xw.dtype.type(_INV_SQRT_2PI)
            return (Tensor._make((gd * d).astype(x.dtype, copy=False)),)

        attach(res, GeluBackward0, backward, (input,), (input,))
    return res


def silu(input, inplace: bool = False):
    """x * sigmoid(x)."""
    _float_only(input, "silu_cpu")
    x = input._data
    if x.dtype != np.float32 and x.dtype != np.float64:
        return input * U.sigmoid(input)
    s = U._np_sigmoid(x)
    res = Tensor._make(x * s)
    if needs_grad(input):
        def backward(g):
            if STATE.enabled:
                sg = U.sigmoid(input)
                return (g * (sg * (1.0 + input * (1.0 - sg))),)
            one = x.dtype.type(1)
            return (Tensor._make(g._data * (s * (one + x * (one - s)))),)

        attach(res, SiluBackward0, backward, (input,), (input,))
    return res


def mish(input, inplace=False):
    _float_only(input, "mish_cpu")
    return input * U.tanh(softplus(input))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return R.softmax(input, dim, dtype=dtype)


def _masked_softmax(input, mask, dim=None, mask_type=None):
    """``softmax(input.masked_fill(mask, -inf), dim)`` (torch's private ``_masked_softmax``); ``mask`` is bool,
    True = masked out, broadcastable to ``input`` (``mask_type=1``: a (B, S) key padding mask of a 4-D input).
    Rows with every entry masked give zeros. A fused kernel for the last dim of float32/float64 inputs.

    >>> import tensorstein as ts
    >>> _masked_softmax(ts.zeros(1, 1, 1, 3), ts.tensor([[False, False, True]]), -1, mask_type=1).tolist()
    [[[[0.5, 0.5, 0.0]]]]
    """
    x, m = input._data, mask._data
    d = (x.ndim - 1 if dim is None else dim) % max(x.ndim, 1)
    if mask_type == 1:
        m = m.reshape((m.shape[0],) + (1,) * (x.ndim - 2) + (m.shape[-1],))
    m = np.broadcast_to(m, x.shape)
    if needs_grad(input) or d != x.ndim - 1 or x.ndim > 4 or x.dtype not in (np.float32, np.float64):
        dead = Tensor._make(m.all(axis=d, keepdims=True))
        y = R.softmax(input.masked_fill(Tensor._make(m), float("-inf")), d)
        return y.masked_fill(dead, 0.0)
    from . import _fused

    lead = (1,) * (4 - x.ndim)
    out = np.empty(x.shape, x.dtype)
    _fused.masked_softmax(x.reshape(lead + x.shape), m.reshape(lead + m.shape), out.reshape(lead + x.shape))
    return Tensor._make(out)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return R.log_softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return R.softmax(-input, dim, dtype=dtype)


def logsigmoid(input):
    _float_only(input, "log_sigmoid_cpu")
    return -softplus(-input)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    n = R.norm(input, p, dim, keepdim=True)
    return input / U.clamp_min(n, eps).expand_as(input)
