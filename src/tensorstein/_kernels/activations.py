"""Fused element-wise activation kernels: forward ``f(x) -> y`` and one-pass
backward ``f_backward(grad, x, y) -> grad_input`` (no temporaries).

Every function takes and returns NumPy arrays of one shape; float32 and
float64 compute natively, float16/bfloat16 through float32 and come back in
their own dtype.  Large operands run chunked on all cores
(:mod:`.elementwise_engine`).  The formulas are torch's (``aten/native/cpu``
activation kernels), so values match torch to a few ulps.

>>> import numpy as np
>>> gelu(np.array([1.0], np.float32))  # doctest: +ELLIPSIS
array([0.841...], dtype=float32)
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .elementwise_engine import LIGHT, STREAMS, grain, map_nary, map_unary
from .unary_math import (
    FASTMATH,
    erf_s,
    erfc_s,
    erfinv_s,
    exp_s,
    expm1_s,
    log1p01_s,
    sigmoid_s,
    tanh_s,
)

__all__ = [
    "celu",
    "celu_backward",
    "elu",
    "elu_backward",
    "erf",
    "erf_backward",
    "erfc",
    "erfc_backward",
    "erfinv",
    "erfinv_backward",
    "gelu",
    "gelu_backward",
    "hardsigmoid",
    "hardsigmoid_backward",
    "hardswish",
    "hardswish_backward",
    "hardtanh",
    "hardtanh_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "mish",
    "mish_backward",
    "relu",
    "relu_backward",
    "selu",
    "selu_backward",
    "sigmoid",
    "sigmoid_backward",
    "silu",
    "silu_backward",
    "softplus",
    "softplus_backward",
    "tanh",
    "tanh_backward",
]

_J = {"fastmath": FASTMATH, "cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}
_SQRT1_2 = 0.7071067811865476
_SQRT_2_PI = 0.7978845608028654  # sqrt(2 / pi)
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)
_TWO_SQRT_PI = 1.1283791670955126  # 2 / sqrt(pi)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# ------------------------------------------------------------------ sigmoid / silu
@njit(**_J)
def _sigmoid_k(x, out):
    for i in range(x.shape[0]):
        out[i] = sigmoid_s(x[i])


@njit(**_J)
def _sigmoid_bk(g, y, out):
    one = y.dtype.type(1.0)
    for i in range(y.shape[0]):
        out[i] = g[i] * ((one - y[i]) * y[i])


@njit(**_J)
def _silu_k(x, out):
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v * sigmoid_s(v)


@njit(**_J)
def _silu_bk(g, x, out):
    one = x.dtype.type(1.0)
    for i in range(x.shape[0]):
        v = x[i]
        s = sigmoid_s(v)
        out[i] = g[i] * s * (one + v * (one - s))


def sigmoid(x):
    """``1 / (1 + exp(-x))``."""
    return map_unary(_sigmoid_k, x)


def sigmoid_backward(grad, x, y):
    """``grad * y * (1 - y)`` (``x`` unused)."""
    return map_nary(_sigmoid_bk, (grad, y))


def silu(x):
    """``x * sigmoid(x)``."""
    return map_unary(_silu_k, x)


def silu_backward(grad, x, y=None):
    """``grad * s * (1 + x * (1 - s))``, ``s = sigmoid(x)``."""
    return map_nary(_silu_bk, (grad, x))


# ------------------------------------------------------------------ erf family / gelu
@njit(**_J)
def _erf_k(x, out):
    for i in range(x.shape[0]):
        out[i] = erf_s(x[i])


@njit(**_J)
def _erf_bk(g, x, out):
    c = x.dtype.type(_TWO_SQRT_PI)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = g[i] * c * exp_s(-v * v)


@njit(**_J)
def _erfc_k(x, out):
    for i in range(x.shape[0]):
        out[i] = erfc_s(x[i])


@njit(**_J)
def _erfinv_k(x, out):
    for i in range(x.shape[0]):
        out[i] = erfinv_s(x[i])


@njit(**_J)
def _erfinv_bk(g, y, out):
    c = y.dtype.type(0.886226925452758)  # sqrt(pi) / 2
    for i in range(y.shape[0]):
        v = y[i]
        out[i] = g[i] * c * exp_s(v * v)


@njit(**_J)
def _gelu_k(x, out):
    h = x.dtype.type(0.5)
    one = x.dtype.type(1.0)
    s = x.dtype.type(_SQRT1_2)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v * (one + erf_s(v * s)) * h  # torch's order: overflows to inf above 1.7e38


@njit(**_J)
def _gelu_bk(g, x, out):
    h = x.dtype.type(0.5)
    one = x.dtype.type(1.0)
    s = x.dtype.type(_SQRT1_2)
    c = x.dtype.type(_INV_SQRT_2PI)
    for i in range(x.shape[0]):
        v = x[i]
        cdf = h * (one + erf_s(v * s))
        pdf = c * exp_s(-h * v * v)
        out[i] = g[i] * (cdf + v * pdf)


@njit(**_J)
def _gelu_tanh_k(x, out):
    h = x.dtype.type(0.5)
    one = x.dtype.type(1.0)
    b = x.dtype.type(_SQRT_2_PI)
    k = x.dtype.type(0.044715)
    for i in range(x.shape[0]):
        v = x[i]
        inner = b * (v + k * v * v * v)
        out[i] = h * v * (one + tanh_s(inner))


@njit(**_J)
def _gelu_tanh_bk(g, x, out):
    h = x.dtype.type(0.5)
    one = x.dtype.type(1.0)
    b = x.dtype.type(_SQRT_2_PI)
    k = x.dtype.type(0.044715)
    k3 = x.dtype.type(3 * 0.044715)
    for i in range(x.shape[0]):
        v = x[i]
        v2 = v * v
        t = tanh_s(b * (v + k * v2 * v))
        left_d = h * (one + t)
        right_d = h * v * (one - t * t) * b * (one + k3 * v2)
        out[i] = g[i] * (left_d + right_d)


def erf(x):
    """Error function."""
    return map_unary(_erf_k, x)


def erf_backward(grad, x, y=None):
    """``grad * 2 / sqrt(pi) * exp(-x**2)``."""
    return map_nary(_erf_bk, (grad, x))


def erfc(x):
    """Complementary error function (float64 libm; exact for tiny tails)."""
    return map_unary(_erfc_k, x)


def erfc_backward(grad, x, y=None):
    """``-grad * 2 / sqrt(pi) * exp(-x**2)``."""
    return np.negative(erf_backward(grad, x))


def erfinv(x):
    """Inverse error function (``+-inf`` at ``+-1``, NaN outside ``[-1, 1]``)."""
    return map_unary(_erfinv_k, x)


def erfinv_backward(grad, x, y):
    """``grad * sqrt(pi) / 2 * exp(y**2)``."""
    return map_nary(_erfinv_bk, (grad, y))


def gelu(x, approximate: str = "none"):
    """``x * Phi(x)`` (``approximate='tanh'``: torch's tanh formula)."""
    return map_unary(_gelu_tanh_k if approximate == "tanh" else _gelu_k, x)


def gelu_backward(grad, x, y=None, approximate: str = "none"):
    """Input gradient of :func:`gelu`, one pass."""
    return map_nary(_gelu_tanh_bk if approximate == "tanh" else _gelu_bk, (grad, x))


# ------------------------------------------------------------------ softplus / mish
@njit(**_J)
def _softplus_k(x, out, beta, threshold):
    zero = x.dtype.type(0.0)
    for i in range(x.shape[0]):
        v = x[i]
        z = v * beta
        sp = (max(z, zero) + log1p01_s(exp_s(-abs(z)))) / beta
        out[i] = v if z > threshold else sp


@njit(**_J)
def _softplus_bk(g, x, out, beta, threshold):
    for i in range(x.shape[0]):
        z = x[i] * beta
        s = sigmoid_s(z)
        out[i] = g[i] if z > threshold else g[i] * s


@njit(**_J)
def _mish_k(x, out):
    zero = x.dtype.type(0.0)
    for i in range(x.shape[0]):
        v = x[i]
        sp = max(v, zero) + log1p01_s(exp_s(-abs(v)))
        out[i] = v * tanh_s(sp)


@njit(**_J)
def _mish_bk(g, x, out):
    zero = x.dtype.type(0.0)
    one = x.dtype.type(1.0)
    for i in range(x.shape[0]):
        v = x[i]
        t = tanh_s(max(v, zero) + log1p01_s(exp_s(-abs(v))))
        out[i] = g[i] * (t + v * sigmoid_s(v) * (one - t * t))


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """``log1p(exp(beta * x)) / beta``; ``x`` where ``beta * x > threshold``."""
    t = np.float32 if x.dtype != np.float64 else np.float64
    return map_unary(_softplus_k, x, t(beta), t(threshold))


def softplus_backward(grad, x, y=None, beta: float = 1.0, threshold: float = 20.0):
    """``grad * sigmoid(beta * x)``; ``grad`` where ``beta * x > threshold``."""
    t = np.float32 if x.dtype != np.float64 else np.float64
    return map_nary(_softplus_bk, (grad, x), t(beta), t(threshold))


def mish(x):
    """``x * tanh(softplus(x))``."""
    return map_unary(_mish_k, x)


def mish_backward(grad, x, y=None):
    """``grad * (t + x * sigmoid(x) * (1 - t**2))``, ``t = tanh(softplus(x))``."""
    return map_nary(_mish_bk, (grad, x))


# ------------------------------------------------------------------ elu family
@njit(**_J)
def _elu_k(x, out, alpha, scale, input_scale):
    zero = x.dtype.type(0.0)
    for i in range(x.shape[0]):
        v = x[i]
        neg = expm1_s(v * input_scale) * (alpha * scale)
        out[i] = v * scale if v > zero else neg


@njit(**_J)
def _elu_bk(g, x, out, alpha, scale, input_scale):
    zero = x.dtype.type(0.0)
    for i in range(x.shape[0]):
        v = x[i]
        neg = g[i] * input_scale * (alpha * scale) * exp_s(v * input_scale)
        out[i] = neg if v <= zero else g[i] * scale  # NaN takes the positive branch, as torch


def _params(x, *ps):
    t = np.float32 if x.dtype != np.float64 else np.float64
    return tuple(t(p) for p in ps)


def elu(x, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0):
    """``scale * x`` for ``x > 0``, else ``alpha * scale * expm1(input_scale * x)``."""
    return map_unary(_elu_k, x, *_params(x, alpha, scale, input_scale))


def elu_backward(grad, x, y=None, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0):
    """Input gradient of :func:`elu` from its input."""
    return map_nary(_elu_bk, (grad, x), *_params(x, alpha, scale, input_scale))


def selu(x):
    """ELU with SELU's fixed alpha and scale."""
    return elu(x, _SELU_ALPHA, _SELU_SCALE)


def selu_backward(grad, x, y=None):
    """Input gradient of :func:`selu`."""
    return elu_backward(grad, x, None, _SELU_ALPHA, _SELU_SCALE)


def celu(x, alpha: float = 1.0):
    """``max(0, x) + min(0, alpha * expm1(x / alpha))``."""
    return elu(x, alpha, 1.0, 1.0 / alpha)


def celu_backward(grad, x, y=None, alpha: float = 1.0):
    """Input gradient of :func:`celu`."""
    return elu_backward(grad, x, None, alpha, 1.0, 1.0 / alpha)


# ------------------------------------------------------------------ tanh / piecewise-linear
@njit(**_J)
def _tanh_k(x, out):
    for i in range(x.shape[0]):
        out[i] = tanh_s(x[i])


@njit(**_J)
def _tanh_bk(g, y, out):
    one = y.dtype.type(1.0)
    for i in range(y.shape[0]):
        out[i] = g[i] * (one - y[i] * y[i])


@njit(**_J)
def _relu_bk(g, y, out):
    zero = y.dtype.type(0.0)
    for i in range(y.shape[0]):
        out[i] = zero if y[i] <= zero else g[i]  # NaN passes the gradient, as torch


@njit(**_J)
def _leaky_k(x, out, slope):
    zero = x.dtype.type(0.0)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v if v > zero else v * slope


@njit(**_J)
def _leaky_bk(g, x, out, slope):
    zero = x.dtype.type(0.0)
    for i in range(x.shape[0]):
        out[i] = g[i] if x[i] > zero else g[i] * slope


@njit(**_J)
def _hardtanh_k(x, out, lo, hi):
    for i in range(x.shape[0]):
        v = x[i]
        r = lo if v < lo else v  # noqa: FURB136 (selects keep NaN)
        r = hi if v > hi else r
        out[i] = v if np.isnan(v) else r


@njit(**_J)
def _hardtanh_bk(g, x, out, lo, hi):
    zero = x.dtype.type(0.0)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = g[i] if (v > lo and v < hi) else zero


@njit(fastmath=FASTMATH, cache=True, inline="always")
def _relu6(r, zero, six):
    # clamp to [0, 6] with NaN passing through (plain selects)
    r = zero if r < zero else r  # noqa: FURB136 (selects keep NaN)
    return six if r > six else r  # noqa: FURB136


@njit(**_J)
def _hardsigmoid_k(x, out):
    zero, three, six = x.dtype.type(0.0), x.dtype.type(3.0), x.dtype.type(6.0)
    for i in range(x.shape[0]):
        out[i] = _relu6(x[i] + three, zero, six) / six


@njit(**_J)
def _hardsigmoid_bk(g, x, out):
    zero = x.dtype.type(0.0)
    three = x.dtype.type(3.0)
    sixth = x.dtype.type(np.float32(1.0 / 6.0))  # torch's constant is 1.0f / 6.0f for every dtype
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = g[i] * sixth if (v > -three and v < three) else zero


@njit(**_J)
def _hardswish_k(x, out):
    zero, three, six = x.dtype.type(0.0), x.dtype.type(3.0), x.dtype.type(6.0)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v * _relu6(v + three, zero, six) / six


@njit(**_J)
def _hardswish_bk(g, x, out):
    zero = x.dtype.type(0.0)
    half = x.dtype.type(0.5)
    three = x.dtype.type(3.0)
    third = x.dtype.type(1.0 / 3.0)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = zero if v <= -three else (g[i] * (v * third + half) if v < three else g[i])


@njit(**_J)
def _relu_k(x, out):
    zero = x.dtype.type(0.0)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v if (v > zero or np.isnan(v)) else zero  # NaN stays NaN (max() would drop it)


grain(LIGHT, _relu_k, _leaky_k, _hardtanh_k, _hardsigmoid_k, _hardswish_k)
grain(STREAMS, _relu_bk, _leaky_bk, _hardtanh_bk, _hardsigmoid_bk, _hardswish_bk, _tanh_bk, _sigmoid_bk)


def tanh(x):
    """Hyperbolic tangent (NumPy's SIMD ``tanh``, chunked over the pool)."""
    return map_unary(lambda a, o: np.tanh(a, out=o), x)


def tanh_backward(grad, x, y):
    """``grad * (1 - y**2)``."""
    return map_nary(_tanh_bk, (grad, y))


def relu(x):
    """``max(x, 0)`` (NaN stays NaN), chunked over the pool."""
    return map_unary(_relu_k, x)


def relu_backward(grad, x, y):
    """0 where ``y <= 0``, else ``grad``."""
    return map_nary(_relu_bk, (grad, y))


def leaky_relu(x, negative_slope: float = 0.01):
    """``x`` for ``x > 0``, else ``negative_slope * x``."""
    return map_unary(_leaky_k, x, *_params(x, negative_slope))


def leaky_relu_backward(grad, x, y=None, negative_slope: float = 0.01):
    """``grad`` for ``x > 0``, else ``negative_slope * grad``."""
    return map_nary(_leaky_bk, (grad, x), *_params(x, negative_slope))


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0):
    """``clamp(x, min_val, max_val)`` (NaN stays NaN)."""
    return map_unary(_hardtanh_k, x, *_params(x, min_val, max_val))


def hardtanh_backward(grad, x, y=None, min_val: float = -1.0, max_val: float = 1.0):
    """``grad`` strictly inside ``(min_val, max_val)``, else 0 (torch's rule)."""
    return map_nary(_hardtanh_bk, (grad, x), *_params(x, min_val, max_val))


def hardsigmoid(x):
    """``clamp(x + 3, 0, 6) / 6``."""
    return map_unary(_hardsigmoid_k, x)


def hardsigmoid_backward(grad, x, y=None):
    """``grad / 6`` inside ``(-3, 3)``, else 0."""
    return map_nary(_hardsigmoid_bk, (grad, x))


def hardswish(x):
    """``x * clamp(x + 3, 0, 6) / 6``."""
    return map_unary(_hardswish_k, x)


def hardswish_backward(grad, x, y=None):
    """0 at or below -3, ``grad`` at or above 3, ``grad * (x / 3 + 0.5)`` between (torch's rule)."""
    return map_nary(_hardswish_bk, (grad, x))
