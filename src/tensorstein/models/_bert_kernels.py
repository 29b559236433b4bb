"""Fused NumPy/Numba kernels for Transformer inference (no autograd).

These work on plain float32 NumPy arrays and are used by the models' no-grad
fast path; the differentiable path uses the ordinary tensorstein ops.

* :func:`gelu_bias_` -- ``x = gelu(x + bias)`` in place, exact-erf GELU with a
  float32 rational erf approximation (max error ~1e-7, Eigen/XLA's
  ``fast_erf``), vectorised by Numba.
* :func:`add_layer_norm` -- ``LayerNorm(x + residual)`` in one pass per row.
* :func:`masked_softmax_` -- ``softmax(scores * scale + mask_bias)`` in place.
* :func:`split_heads` -- fused QKV projection output -> per-head q, k, v (+ bias, q scaled).

Each has a pure NumPy fallback used when Numba is unavailable.
"""

from __future__ import annotations

import numpy as np

try:  # numba is a dependency, but keep working (slower) without it
    import numba as _nb
except Exception:  # pragma: no cover
    _nb = None

__all__ = ["gelu_bias_", "add_layer_norm", "masked_softmax_", "split_heads", "erf_f32", "HAVE_NUMBA"]

HAVE_NUMBA = _nb is not None

# Rational approximation of erf on [-4, 4] (erf(+-4) == +-1 in float32).
_A = (
    -2.72614225801306e-10,
    2.77068142495902e-08,
    -2.10102402082508e-06,
    -5.69250639462346e-05,
    -7.34990630326855e-04,
    -2.95459980854025e-03,
    -1.60960333262415e-02,
)
_B = (
    -1.45660718464996e-05,
    -2.13374055278905e-04,
    -1.68282697438203e-03,
    -7.37332916720468e-03,
    -1.42647390514189e-02,
)
_SQRT1_2 = 0.7071067811865476


def _erf_np(x: np.ndarray) -> np.ndarray:
    dt = x.dtype.type
    a = np.clip(x, dt(-4), dt(4))
    x2 = a * a
    p = x2 * dt(_A[0]) + dt(_A[1])
    for c in _A[2:]:
        p *= x2
        p += dt(c)
    p *= a
    q = x2 * dt(_B[0]) + dt(_B[1])
    for c in _B[2:]:
        q *= x2
        q += dt(c)
    return p / q


def erf_f32(x: np.ndarray) -> np.ndarray:
    """Vectorised float32-accurate erf (float64 input uses the exact math.erf)."""
    x = np.asarray(x)
    if x.dtype == np.float64:
        from math import erf

        return np.frompyfunc(erf, 1, 1)(x).astype(np.float64)
    return _erf_np(x.astype(np.float32, copy=False))


def _gelu_bias_np(x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    if bias is not None:
        x += bias
    e = _erf_np(x * np.float32(_SQRT1_2))
    e += np.float32(1.0)
    e *= np.float32(0.5)
    x *= e
    return x


def _add_layer_norm_np(x, residual, weight, bias, eps):
    h = x + residual if residual is not None else x.astype(np.float32, copy=True)
    mean = h.mean(-1, keepdims=True)
    h -= mean
    var = np.mean(h * h, axis=-1, keepdims=True)
    h *= 1.0 / np.sqrt(var + np.float32(eps))
    h *= weight
    h += bias
    return h


def _masked_softmax_np(s, scale, mask_bias):
    s *= np.float32(scale)
    if mask_bias is not None:
        s += mask_bias
    s -= s.max(-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(-1, keepdims=True)
    return s


if _nb is not None:
    try:  # vectorisable polynomial exp from the attention kernels, if present
        from .._kernels.fast_exp import fast_exp_f32 as _exp32
    except Exception:  # pragma: no cover
        _exp32 = None
    if _exp32 is None:

        @_nb.njit(fastmath=True, cache=True, error_model="numpy", inline="always")
        def _exp32(v):
            return np.exp(v)

    _FM = {"nsz", "arcp", "contract", "afn", "reassoc"}
    A0, A1, A2, A3, A4, A5, A6 = (np.float32(v) for v in _A)
    B0, B1, B2, B3, B4 = (np.float32(v) for v in _B)
    F_S12 = np.float32(_SQRT1_2)
    F_HALF = np.float32(0.5)
    F_ONE = np.float32(1.0)
    F_FOUR = np.float32(4.0)

    @_nb.njit(fastmath=_FM, cache=True, error_model="numpy", inline="always")
    def _erf1(v):
        a = min(max(v, -F_FOUR), F_FOUR)
        x2 = a * a
        p = x2 * A0 + A1
        p = p * x2 + A2
        p = p * x2 + A3
        p = p * x2 + A4
        p = p * x2 + A5
        p = p * x2 + A6
        p = p * a
        q = x2 * B0 + B1
        q = q * x2 + B2
        q = q * x2 + B3
        q = q * x2 + B4
        return p / q

    @_nb.njit(fastmath=_FM, cache=True, error_model="numpy", nogil=True)
    def _gelu_bias_nb(x, bias):  # x: (N, C) float32, bias: (C,)
        n, c = x.shape
        for i in _nb.prange(n):
            row = x[i]
            for j in range(c):
                v = row[j] + bias[j]
                row[j] = v * F_HALF * (F_ONE + _erf1(v * F_S12))

    @_nb.njit(fastmath=_FM, cache=True, error_model="numpy", nogil=True)
    def _add_layer_norm_nb(x, x_bias, residual, weight, bias, eps, out):
        n, c = x.shape
        inv_c = np.float32(1.0) / np.float32(c)
        for i in _nb.prange(n):
            xr = x[i]
            rr = residual[i]
            o = out[i]
            s = np.float32(0.0)
            for j in range(c):
                v = xr[j] + x_bias[j] + rr[j]
                o[j] = v
                s += v
            mean = s * inv_c
            ss = np.float32(0.0)
            for j in range(c):
                d = o[j] - mean
                o[j] = d
                ss += d * d
            rstd = np.float32(1.0) / np.sqrt(ss * inv_c + eps)
            for j in range(c):
                o[j] = o[j] * rstd * weight[j] + bias[j]

    @_nb.njit(fastmath=_FM, cache=True, error_model="numpy", nogil=True)
    def _split_heads_nb(qkv, bias, q_scale, out):  # qkv: (B*L, 3*H*D) -> out: (3, B, H, L, D)
        _, b, h, l, d = out.shape
        c = h * d
        for bi in range(b):
            for li in range(l):
                row = qkv[bi * l + li]
                for t in range(3):
                    sc = q_scale if t == 0 else np.float32(1.0)
                    for hi in range(h):
                        base = t * c + hi * d
                        dst = out[t, bi, hi, li]
                        for di in range(d):
                            dst[di] = (row[base + di] + bias[base + di]) * sc

    @_nb.njit(fastmath={"nsz", "arcp", "contract", "reassoc", "afn"}, cache=True, error_model="numpy", nogil=True)
    def _masked_softmax_nb(s, scale, mask_bias):  # s: (B, H, Lq, Lk); mask_bias: (B, Lk)
        b, h, lq, lk = s.shape
        for bi in _nb.prange(b):
            mb = mask_bias[bi]
            for hi in range(h):
                for qi in range(lq):
                    row = s[bi, hi, qi]
                    m = np.float32(-np.inf)
                    for j in range(lk):
                        v = row[j] * scale + mb[j]
                        row[j] = v
                        m = max(m, v)
                    tot = np.float32(0.0)
                    for j in range(lk):
                        e = _exp32(row[j] - m)
                        row[j] = e
                        tot += e
                    inv = np.float32(1.0) / tot
                    for j in range(lk):
                        row[j] *= inv


def _ok(*arrays) -> bool:
    return all(a is None or (a.dtype == np.float32 and a.flags.c_contiguous) for a in arrays)


def gelu_bias_(x: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``x <- gelu(x + bias)`` in place (exact-erf GELU); returns ``x``."""
    if HAVE_NUMBA and x.ndim >= 1 and x.size and _ok(x, bias):
        c = x.shape[-1]
        b = bias if bias is not None else np.zeros(c, np.float32)
        _gelu_bias_nb(x.reshape(-1, c), b)
        return x
    return _gelu_bias_np(x, bias)


def add_layer_norm(x, residual, weight, bias, eps: float = 1e-12, x_bias=None) -> np.ndarray:
    """``LayerNorm(x + x_bias + residual)`` over the last axis, as a new array.

    ``x_bias`` (optional, shape ``(C,)``) is the bias of the linear layer that
    produced ``x``, folded in here to save a pass over the activations.
    """
    if residual is None:
        residual = np.zeros_like(x)
    c = x.shape[-1]
    if HAVE_NUMBA and x.size and x.shape == residual.shape and _ok(x, residual, weight, bias, x_bias):
        out = np.empty_like(x)
        xb = x_bias if x_bias is not None else np.zeros(c, np.float32)
        _add_layer_norm_nb(x.reshape(-1, c), xb, residual.reshape(-1, c), weight, bias, np.float32(eps), out.reshape(-1, c))
        return out
    if x_bias is not None:
        x = x + x_bias
    return _add_layer_norm_np(x, residual, weight, bias, eps)


def split_heads(qkv: np.ndarray, bias: np.ndarray, batch: int, heads: int, q_scale: float = 1.0) -> np.ndarray:
    """``(B*L, 3*H*D)`` fused projection -> contiguous ``(3, B, H, L, D)`` q/k/v with bias added
    and q multiplied by ``q_scale`` (the attention's ``1/sqrt(D)``), in one pass."""
    n, c3 = qkv.shape
    L = n // batch
    D = c3 // (3 * heads)
    if HAVE_NUMBA and qkv.size and _ok(qkv, bias):
        out = np.empty((3, batch, heads, L, D), np.float32)
        _split_heads_nb(qkv, bias, np.float32(q_scale), out)
        return out
    out = np.ascontiguousarray((qkv + bias).reshape(batch, L, 3, heads, D).transpose(2, 0, 3, 1, 4))
    out[0] *= np.float32(q_scale)
    return out


def masked_softmax_(scores: np.ndarray, scale: float, mask_bias: np.ndarray | None) -> np.ndarray:
    """In place ``softmax(scores * scale + mask_bias[:, None, None, :])`` over the last axis.

    ``scores`` is ``(B, H, Lq, Lk)``; ``mask_bias`` is ``(B, Lk)`` with 0 for
    kept keys and ``-inf`` for padding. Rows must keep at least one key.
    """
    if HAVE_NUMBA and scores.ndim == 4 and scores.size and _ok(scores, mask_bias):
        mb = mask_bias if mask_bias is not None else np.zeros((scores.shape[0], scores.shape[-1]), np.float32)
        _masked_softmax_nb(scores, np.float32(scale), mb)
        return scores
    mb = None if mask_bias is None else mask_bias[:, None, None, :]
    return _masked_softmax_np(scores, scale, mb)
