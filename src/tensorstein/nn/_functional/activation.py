"""Activations: each one op with a fused forward and backward kernel (``_kernels/activations.py``).

The ``_<name>_composite`` functions, written with tensor ops, are the test oracles of the kernels; the
derivative written with tensor ops (``_D[name]``) is the ``create_graph`` path, so double backward is right.
"""
from __future__ import annotations

import numpy as np

from ..._autograd.grad_mode import STATE, grad_enabled
from ..._autograd.graph import attach, needs_grad, node_type
from ..._kernels.lazy import PARALLEL_MIN, kernels
from ..._kernels.parallel import get_num_threads
from ..._ops import reduction as R
from ..._ops._common import _ENTRIES, entry, kernel_fn, serial_below, split_unary
from ..._ops._common import inplace as _in_place
from ..._ops import unary as U
from ..._ops.indexing import where
from ..._tensor import Tensor

_SQRT1_2 = 0.7071067811865476
_SQRT_2_OVER_PI = 0.7978845608028654
_INV_SQRT_2PI = 0.3989422804014327
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_KERNEL_DTYPES = ("float32", "float64", "float16", "bfloat16")
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _small(input, kernel, *params):
    """The forward of a float32/float64 input that records no graph: ``kernel(x, out, *params)``
    (``"activations._elu_k"``) straight through its compiled entry on this thread while the input is small (no
    pool, no type dispatch: the per-call cost), else split over all cores; None otherwise. ``params`` are Python
    floats, converted to the input's dtype as the kernel wrappers do."""
    x = input._data
    dt = x.dtype
    if not (dt is _F32 or dt is _F64) or (input.requires_grad and grad_enabled()):
        return None
    if x.size >= PARALLEL_MIN and get_num_threads() > 1 and (arr := split_unary(kernel, x, *params)) is not None:
        return Tensor._make(arr)  # large: over the team's threads (it takes Python floats in x's dtype)
    if x.size < PARALLEL_MIN or get_num_threads() == 1 or x.size < serial_below(kernel):
        ep = _ENTRIES.get((kernel, dt)) or entry(kernel, dt, (1, 1) + (float,) * len(params))
        out = np.empty(x.shape, dt)
        ep(x.ravel(), out.ravel(), *params)
        return Tensor._make(out)
    return Tensor._make(kernels("elementwise_engine").map_unary(kernel_fn(kernel), x, *[dt.type(p) for p in params]))


def _float_only(input, kernel):
    """torch's dtype check of a floating-point-only activation kernel."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{input.dtype.scalar_name}'")


def _fused(input, name, node, derivative, composite, kwargs):
    """``activations.<name>(x, **kwargs)`` as one op: fused backward without create_graph, else
    ``g * derivative(input)`` from tensor ops. Non-float inputs take the composite (torch's errors)."""
    if input.dtype.name not in _KERNEL_DTYPES:
        return composite(input)
    k = kernels("activations")
    x = input._data
    res = Tensor._make(getattr(k, name)(x, **kwargs))  # Numba kernels: no NumPy FP flags, no errstate
    if needs_grad(input):
        fused_backward = getattr(k, name + "_backward")

        def backward(g):
            if STATE.enabled:  # create_graph: differentiable again
                return (g * derivative(input),)
            gd = g._data if g._data.dtype == x.dtype else g._data.astype(x.dtype)
            return (Tensor._make(fused_backward(gd, x, None, **kwargs)),)

        attach(res, node_type(node), backward, (input,), (input,))
    return res


def relu(input, inplace: bool = False):
    return input.relu_() if inplace else U.relu(input)


def _hardtanh_d(x, lo, hi):
    return ((x > lo) & (x < hi)).to(x.dtype)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``clamp(x, min_val, max_val)``; the gradient is zero at and outside the bounds (torch's rule)."""
    if inplace:
        return _in_place(input, hardtanh, min_val, max_val)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if (res := _small(input, "activations._hardtanh_k", float(min_val), float(max_val))) is not None:
        return res
    if input.dtype.name == "bool":
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if not input.dtype.is_floating_point:  # torch casts the bounds to the integer dtype
        min_val, max_val = int(min_val), int(max_val)
        if input.dtype.name == "uint8" and (min_val < 0 or max_val < 0):
            raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
    return _fused(input, "hardtanh", "HardtanhBackward0", lambda x: _hardtanh_d(x, min_val, max_val),
                  lambda x: U.clamp(x, min_val, max_val), {"min_val": min_val, "max_val": max_val})


def relu6(input, inplace=False):
    if inplace:
        return _in_place(input, relu6)
    if (res := _small(input, "activations._hardtanh_k", 0.0, 6.0)) is not None:  # hardtanh's first step
        return res
    return hardtanh(input, 0.0, 6.0)


def _leaky_relu_composite(input, negative_slope=0.01):
    return where(input > 0, input, input * negative_slope)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    if inplace:
        return _in_place(input, leaky_relu, negative_slope)
    if (res := _small(input, "activations._leaky_k", float(negative_slope))) is not None:
        return res
    _float_only(input, "leaky_relu_cpu")
    return _fused(input, "leaky_relu", "LeakyReluBackward0",
                  lambda x: (x > 0).to(x.dtype) * (1.0 - negative_slope) + negative_slope,
                  lambda x: _leaky_relu_composite(x, negative_slope), {"negative_slope": negative_slope})


def _elu_composite(input, alpha=1.0, scale=1.0, input_scale=1.0):
    return where(input > 0, input * scale, (U.exp(input * input_scale) - 1.0) * (alpha * scale))


def _elu_d(x, alpha, scale, input_scale):
    return where(x > 0, scale, U.exp(x * input_scale) * (alpha * scale * input_scale))


def elu(input, alpha=1.0, inplace=False):
    if inplace:
        return _in_place(input, elu, alpha)
    if (res := _small(input, "activations._elu_k", float(alpha), 1.0, 1.0)) is not None:
        return res
    _float_only(input, "elu_cpu")
    return _fused(input, "elu", "EluBackward0", lambda x: _elu_d(x, alpha, 1.0, 1.0),
                  lambda x: _elu_composite(x, alpha), {"alpha": alpha})


def selu(input, inplace=False):
    if inplace:
        return _in_place(input, selu)
    if (res := _small(input, "activations._elu_k", _SELU_ALPHA, _SELU_SCALE, 1.0)) is not None:
        return res
    return _fused(input, "selu", "EluBackward0", lambda x: _elu_d(x, _SELU_ALPHA, _SELU_SCALE, 1.0),
                  lambda x: _elu_composite(x, _SELU_ALPHA, _SELU_SCALE), {})


def celu(input, alpha=1.0, inplace=False):
    if inplace:
        return _in_place(input, celu, alpha)
    if (res := _small(input, "activations._elu_k", float(alpha), 1.0, 1.0 / alpha)) is not None:
        return res
    return _fused(input, "celu", "CeluBackward0", lambda x: _elu_d(x, alpha, 1.0, 1.0 / alpha),
                  lambda x: _elu_composite(x, alpha, 1.0, 1.0 / alpha), {"alpha": alpha})


def _softplus_composite(input, beta=1.0, threshold=20.0):
    z = input * beta
    return where(z > threshold, input, U.log1p(U.exp(z)) / beta)


def softplus(input, beta=1.0, threshold=20.0):
    if (res := _small(input, "activations._softplus_k", float(beta), float(threshold))) is not None:
        return res
    _float_only(input, "softplus_cpu")
    return _fused(input, "softplus", "SoftplusBackward0",
                  lambda x: where(x * beta > threshold, 1.0, U.sigmoid(x * beta)),
                  lambda x: _softplus_composite(x, beta, threshold), {"beta": beta, "threshold": threshold})


def tanh(input):
    return U.tanh(input)


def sigmoid(input):
    return U.sigmoid(input)


def _hardsigmoid_composite(input):
    return U.clamp(input + 3.0, 0.0, 6.0) / 6.0


def hardsigmoid(input, inplace=False):
    if inplace:
        return _in_place(input, hardsigmoid)
    if (res := _small(input, "activations._hardsigmoid_k")) is not None:
        return res
    return _fused(input, "hardsigmoid", "HardsigmoidBackward0", lambda x: ((x > -3.0) & (x < 3.0)).to(x.dtype) / 6.0,
                  _hardsigmoid_composite, {})


def _hardswish_composite(input):
    return input * U.clamp(input + 3.0, 0.0, 6.0) / 6.0


def hardswish(input, inplace=False):
    if inplace:
        return _in_place(input, hardswish)
    if (res := _small(input, "activations._hardswish_k")) is not None:
        return res
    return _fused(input, "hardswish", "HardswishBackward0",
                  lambda x: where(x <= -3.0, 0.0, where(x >= 3.0, 1.0, x / 3.0 + 0.5)),
                  _hardswish_composite, {})


def _gelu_composite(input, approximate: str = "none"):
    """GELU from tensor ops (the oracle for the fused op, differentiable to any order)."""
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * _SQRT_2_OVER_PI
        return input * 0.5 * (U.tanh(inner) + 1.0)
    return input * 0.5 * (U.erf(input * _SQRT1_2) + 1.0)


def _gelu_d(input, approximate):
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * _SQRT_2_OVER_PI
        th = U.tanh(inner)
        return (th + 1.0) * 0.5 + input * 0.5 * (1.0 - th * th) * _SQRT_2_OVER_PI * (
            input * input * (3 * 0.044715) + 1.0)
    return (U.erf(input * _SQRT1_2) + 1.0) * 0.5 + input * U.exp(input * input * -0.5) * _INV_SQRT_2PI


def gelu(input, approximate: str = "none"):
    """x * Phi(x) (``approximate='none'``, exact erf) or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    kernel = "activations._gelu_tanh_k" if approximate == "tanh" else "activations._gelu_k"
    if (res := _small(input, kernel)) is not None:
        return res
    _float_only(input, "GeluKernelImpl")
    return _fused(input, "gelu", "GeluBackward0", lambda x: _gelu_d(x, approximate),
                  lambda x: _gelu_composite(x, approximate), {"approximate": approximate})


def _silu_composite(input):
    return input * U.sigmoid(input)


def _silu_d(x):
    s = U.sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def silu(input, inplace: bool = False):
    """x * sigmoid(x)."""
    if inplace:
        return _in_place(input, silu)
    if (res := _small(input, "activations._silu_k")) is not None:
        return res
    _float_only(input, "silu_cpu")
    return _fused(input, "silu", "SiluBackward0", _silu_d, _silu_composite, {})


def _mish_composite(input):
    return input * U.tanh(_softplus_composite(input))


def _mish_d(x):
    t = U.tanh(_softplus_composite(x))
    return t + x * U.sigmoid(x) * (1.0 - t * t)


def mish(input, inplace=False):
    if inplace:
        return _in_place(input, mish)
    if (res := _small(input, "activations._mish_k")) is not None:
        return res
    _float_only(input, "mish_cpu")
    return _fused(input, "mish", "MishBackward0", _mish_d, _mish_composite, {})


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if (res := R._rows_softmax(input, dim, dtype, False)) is not None:  # small / one-thread fast path
        return res
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
    lead = (1,) * (4 - x.ndim)
    out = np.empty(x.shape, x.dtype)
    kernels("rows").masked_softmax(x.reshape(lead + x.shape), m.reshape(lead + m.shape), out.reshape(lead + x.shape))
    return Tensor._make(out)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if (res := R._rows_softmax(input, dim, dtype, True)) is not None:  # small / one-thread fast path
        return res
    return R.log_softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return R.softmax(-input, dim, dtype=dtype)


def logsigmoid(input):
    _float_only(input, "log_sigmoid_cpu")
    return -softplus(-input)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    n = R.norm(input, p, dim, keepdim=True)
    return input / U.clamp_min(n, eps).expand_as(input)
