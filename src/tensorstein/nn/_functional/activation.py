"""Activations: relu, gelu (exact and tanh, one op each with its own backward), silu, softmax, ...

``gelu`` has a fused forward/backward on NumPy arrays; ``_gelu_composite`` (built from tensor ops)
is its test oracle and its create_graph path.
"""
from __future__ import annotations

import math

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
_GELU = None

# erf(x) ~= x P(x^2) / Q(x^2) on [-4, 4] (float32 erf is +-1 beyond): max error ~1e-7 (Eigen's fast_erf)
_ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
          -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
_ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
          -1.42647390514189e-02)


def _build_gelu():
    """Compile the exact-GELU kernels once: ``out = x * cdf``, ``cdf = (1 + erf(x / sqrt 2)) / 2`` in one pass.

    float32 evaluates erf by the rational approximation above (vectorised), float64 by ``math.erf``.
    """
    from numba import njit

    p0, p1, p2, p3, p4, p5, p6 = (np.float32(c) for c in _ERF_P)
    q0, q1, q2, q3, q4 = (np.float32(c) for c in _ERF_Q)
    four, half, one, s12 = np.float32(4.0), np.float32(0.5), np.float32(1.0), np.float32(_SQRT1_2)

    @njit(fastmath={"nsz", "arcp", "contract", "afn", "reassoc"}, nogil=True, cache=True, error_model="numpy")
    def gelu_f32(x, out, cdf):  # flat float32 arrays
        for i in range(x.size):
            v = x[i]
            a = min(max(v * s12, -four), four)
            a2 = a * a
            p = ((((((a2 * p0 + p1) * a2 + p2) * a2 + p3) * a2 + p4) * a2 + p5) * a2 + p6) * a
            q = (((a2 * q0 + q1) * a2 + q2) * a2 + q3) * a2 + q4
            c = half * (one + p / q)
            cdf[i] = c
            out[i] = v * c

    @njit(nogil=True, cache=True)
    def gelu_f64(x, out, cdf):
        for i in range(x.size):
            c = 0.5 * (1.0 + math.erf(x[i] * _SQRT1_2))
            cdf[i] = c
            out[i] = x[i] * c

    return gelu_f32, gelu_f64


def _gelu_erf(x: np.ndarray, with_cdf: bool):
    """``(x * Phi(x), Phi(x) or None)`` for a float32/float64 array (GIL released)."""
    global _GELU
    if _GELU is None:
        _GELU = _build_gelu()
    xc = np.ascontiguousarray(x)
    out = np.empty_like(xc)
    cdf = np.empty_like(xc) if with_cdf else out  # without the cdf, the kernel overwrites it by the output
    (_GELU[0] if xc.dtype == np.float32 else _GELU[1])(xc.reshape(-1), out.reshape(-1), cdf.reshape(-1))
    return out, (cdf if with_cdf else None)


def _work(x):
    return x if x.dtype == np.float32 or x.dtype == np.float64 else x.astype(np.float32)


def relu(input, inplace: bool = False):
    return input.relu_() if inplace else U.relu(input)


def relu6(input, inplace=False):
    return U.clamp(input, 0.0, 6.0)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    return where(input > 0, input, input * negative_slope)


def elu(input, alpha=1.0, inplace=False):
    return where(input > 0, input, (U.exp(input) - 1.0) * alpha)


def softplus(input, beta=1.0, threshold=20.0):
    z = input * beta
    return where(z > threshold, input, U.log1p(U.exp(z)) / beta)


def tanh(input):
    return U.tanh(input)


def sigmoid(input):
    return U.sigmoid(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
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
    if not input.is_floating_point():
        raise RuntimeError(f"\"GeluKernelImpl\" not implemented for '{input.dtype}'")
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
    return input * U.tanh(softplus(input))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return R.softmax(input, dim, dtype=dtype)


_MASKED_SOFTMAX = None


def _build_masked_softmax():
    """Compile the row kernel once: masked entries to -inf, then fast_exp's row max and exp-and-sum."""
    from numba import njit

    from ..._kernels.fast_exp import FASTMATH, exp_sub_sum, row_max

    @njit(fastmath=FASTMATH, nogil=True, cache=True, error_model="numpy")
    def kernel(x, mask, out):  # x, out: (B, H, L, S) (out contiguous); mask: bool, broadcast view of x's shape
        b, h, lq, lk = x.shape
        for bi in range(b):
            for hi in range(h):
                for qi in range(lq):
                    row = out[bi, hi, qi]
                    xr = x[bi, hi, qi]
                    mr = mask[bi, hi, qi]
                    for j in range(lk):
                        row[j] = -np.inf if mr[j] else xr[j]
                    m = row_max(row)
                    if m == -np.inf:  # every key masked: zeros
                        row[:] = 0
                        continue
                    row *= 1 / exp_sub_sum(row, m)

    return kernel


def _masked_softmax(input, mask, dim=None, mask_type=None):
    """``softmax(input.masked_fill(mask, -inf), dim)`` (torch's private ``_masked_softmax``); ``mask`` is bool,
    True = masked out, broadcastable to ``input`` (``mask_type=1``: a (B, S) key padding mask of a 4-D input).
    Rows with every entry masked give zeros. A fused kernel for the last dim of float32/float64 inputs.

    >>> p = F._masked_softmax(scores, key_padding_mask, -1, mask_type=1)  # (B, H, L, S), (B, S)
    """
    global _MASKED_SOFTMAX
    x, m = input._data, mask._data
    d = (x.ndim - 1 if dim is None else dim) % max(x.ndim, 1)
    if mask_type == 1:
        m = m.reshape((m.shape[0],) + (1,) * (x.ndim - 2) + (m.shape[-1],))
    m = np.broadcast_to(m, x.shape)
    if needs_grad(input) or d != x.ndim - 1 or x.ndim > 4 or x.dtype not in (np.float32, np.float64):
        dead = Tensor._make(m.all(axis=d, keepdims=True))
        y = R.softmax(input.masked_fill(Tensor._make(m), float("-inf")), d)
        return y.masked_fill(dead, 0.0)
    if _MASKED_SOFTMAX is None:
        _MASKED_SOFTMAX = _build_masked_softmax()
    lead = (1,) * (4 - x.ndim)
    out = np.empty(x.shape, x.dtype)
    _MASKED_SOFTMAX(x.reshape(lead + x.shape), m.reshape(lead + m.shape), out.reshape(lead + x.shape))
    return Tensor._make(out)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return R.log_softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return R.softmax(-input, dim, dtype=dtype)


def logsigmoid(input):
    return -softplus(-input)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    n = R.norm(input, p, dim, keepdim=True)
    return input / U.clamp_min(n, eps).expand_as(input)
