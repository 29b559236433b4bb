"""Fused row kernels: softmax, log_softmax, layer_norm, rms_norm, cross_entropy, forward and backward.

One pass (or two over a cache-resident row) per row, rows split over all cores.  Rows run along
``dim`` (default: last); another ``dim`` is moved last (one copy).  float32/float64 compute
natively, half types in float32.

>>> import numpy as np
>>> softmax_forward(np.zeros((1, 2), np.float32), -1)
array([[0.5, 0.5]], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .elementwise_engine import (
    LIGHT,
    MIN_CHUNK,
    as_compute,
    grain,
    map_rows,
    map_rows_indexed,
    row_chunks,
)
from .fast_exp import FASTMATH, exp_sub_sum, fast_exp_neg, row_max
from .row_exp import exp_sum, exp_sum_into

__all__ = ["cross_entropy_backward", "cross_entropy_forward", "layer_norm_backward", "layer_norm_forward",
           "log_softmax_backward", "log_softmax_forward", "masked_softmax", "norm_backward_rows", "rms_norm_backward",
           "rms_norm_forward", "softmax_backward", "softmax_forward"]

_J = {"fastmath": FASTMATH, "cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}


def _to_rows(x, dim):
    """(2-D contiguous compute view (R, C), restore(y2) -> array shaped like x)."""
    x = np.asarray(x)
    if x.ndim == 0:
        x = x.reshape(1)
    d = dim % x.ndim
    if d == x.ndim - 1 and x.flags.c_contiguous and (x.dtype == np.float32 or x.dtype == np.float64):
        shape = x.shape  # the common case: a free reshape each way
        return x.reshape(-1, shape[-1]), lambda y2: y2.reshape(shape)
    xm = np.moveaxis(x, d, -1)
    x2 = as_compute(xm).reshape(-1, x.shape[d])

    def restore(y2, dtype=x.dtype):
        y = np.moveaxis(y2.reshape(xm.shape), -1, d)
        y = y if y.dtype == dtype else y.astype(dtype)
        return np.ascontiguousarray(y) if d != x.ndim - 1 else y

    return x2, restore


# ------------------------------------------------------------------ softmax / log_softmax
# softmax and log_softmax are separate kernels: with both behind a flag in one function LLVM
# compiles each ~30% slower
@njit(**_J)
def _softmax_k(r0, r1, x, out):
    for i in range(r0, r1):
        o = out[i]
        inv = o.dtype.type(1.0) / exp_sum_into(x[i], row_max(x[i]), o)
        for j in range(o.shape[0]):
            o[j] *= inv


@njit(**_J)
def _log_softmax_k(r0, r1, x, out):
    for i in range(r0, r1):
        o = out[i]
        xr = x[i]
        m = row_max(xr)
        ls = m + np.log(exp_sum(xr, m))
        for j in range(o.shape[0]):
            o[j] = xr[j] - ls


@njit(**_J)
def _softmax_bk(r0, r1, g, y, out, log):
    for i in range(r0, r1):
        gr = g[i]
        yr = y[i]
        o = out[i]
        s = gr.dtype.type(0.0)
        if log:
            for j in range(gr.shape[0]):
                s += gr[j]
            for j in range(gr.shape[0]):
                o[j] = gr[j] - fast_exp_neg(yr[j]) * s
        else:
            for j in range(gr.shape[0]):
                s += gr[j] * yr[j]
            for j in range(gr.shape[0]):
                o[j] = yr[j] * (gr[j] - s)


def _softmax(x, dim, log):
    x2, restore = _to_rows(x, dim)
    out = np.empty_like(x2)
    if x2.size:
        map_rows(_log_softmax_k if log else _softmax_k, x2.shape[0], x2.shape[1], x2, out)
    return restore(out)


def _softmax_backward(g, y, dim, log):
    g2, _ = _to_rows(g, dim)
    y2, restore = _to_rows(y, dim)
    g2 = g2.astype(y2.dtype, copy=False)
    out = np.empty_like(y2)
    if y2.size:
        map_rows(_softmax_bk, y2.shape[0], y2.shape[1], g2, y2, out, log)
    return restore(out)


def softmax_forward(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """``exp(x - max) / sum(exp(x - max))`` along ``dim``."""
    return _softmax(x, dim, False)


def softmax_backward(grad: np.ndarray, y: np.ndarray, dim: int = -1) -> np.ndarray:
    """``y * (grad - sum(grad * y))`` along ``dim``, from the output ``y``."""
    return _softmax_backward(grad, y, dim, False)


def log_softmax_forward(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """``x - max - log(sum(exp(x - max)))`` along ``dim``."""
    return _softmax(x, dim, True)


def log_softmax_backward(grad: np.ndarray, y: np.ndarray, dim: int = -1) -> np.ndarray:
    """``grad - exp(y) * sum(grad)`` along ``dim``, from the output ``y``."""
    return _softmax_backward(grad, y, dim, True)


@njit(**_J)
def masked_softmax(x, mask, out):
    """Row softmax of (B, H, L, S) ``x`` with ``mask`` (bool, True = masked out, a broadcast view of x's
    shape) into contiguous ``out``; masked entries are -inf, rows with every entry masked give zeros."""
    b, h, lq, lk = x.shape
    ninf = x.dtype.type(-np.inf)
    for bi in range(b):
        for hi in range(h):
            for qi in range(lq):
                row = out[bi, hi, qi]
                xr = x[bi, hi, qi]
                mr = mask[bi, hi, qi]
                m = ninf
                for j in range(lk):
                    v = ninf if mr[j] else xr[j]
                    row[j] = v
                    m = max(m, v)
                if m == ninf:
                    row[:] = 0
                    continue
                row *= 1 / exp_sub_sum(row, m)


# ------------------------------------------------------------------ layer_norm / rms_norm
@njit(**_J)
def _norm_k(r0, r1, x, w, b, eps, out, mean, rstd, center):
    c = x.shape[1]
    t = x.dtype.type
    inv_c = t(1.0) / t(c)
    for i in range(r0, r1):
        xr = x[i]
        o = out[i]
        mu = t(0.0)
        if center:
            for j in range(c):
                mu += xr[j]
            mu *= inv_c
        ss = t(0.0)
        for j in range(c):
            d = xr[j] - mu
            ss += d * d
        v = ss * inv_c + eps
        # rms_norm: an overflowing sum of squares gives rstd 0 (torch's x * rsqrt(inf)) where the fast-math rsqrt
        # gives NaN; layer_norm keeps NaN there, as torch's does
        r = t(0.0) if not center and v == np.inf else t(1.0) / np.sqrt(v)
        mean[i] = mu
        rstd[i] = r
        if w.shape[0] and b.shape[0]:
            for j in range(c):
                o[j] = (xr[j] - mu) * r * w[j] + b[j]
        elif w.shape[0]:
            for j in range(c):
                o[j] = (xr[j] - mu) * r * w[j]
        else:
            for j in range(c):
                o[j] = (xr[j] - mu) * r


@njit(**_J)
def _norm_bk(r0, r1, g, x, w, mean, rstd, dx, part, center):
    """dx rows; ``part[0] += g * xhat`` (dweight), ``part[1] += g`` (dbias) over rows r0:r1."""
    c = x.shape[1]
    t = x.dtype.type
    inv_c = t(1.0) / t(c)
    has_w = w.shape[0] > 0
    pw = part[0]
    pb = part[1]
    for i in range(r0, r1):
        gr = g[i]
        xr = x[i]
        o = dx[i]
        mu = mean[i]
        r = rstd[i]
        s1 = t(0.0)
        s2 = t(0.0)
        for j in range(c):
            xh = (xr[j] - mu) * r
            gw = gr[j] * w[j] if has_w else gr[j]
            s1 += gw
            s2 += gw * xh
            pw[j] += gr[j] * xh
            pb[j] += gr[j]
        s1 = s1 * inv_c if center else t(0.0)
        s2 *= inv_c
        for j in range(c):
            xh = (xr[j] - mu) * r
            gw = gr[j] * w[j] if has_w else gr[j]
            o[j] = r * (gw - s1 - xh * s2)


grain(LIGHT, _norm_k)  # passes over a row, a few flops each (layer_norm at 1e5 elements, 2 threads: forward
# 21 -> 12 µs split, from normalization.py's lean path)


def _norm_forward(x, n_norm, weight, bias, eps, center):
    shape = x.shape
    dtype = x.dtype
    c = math.prod(shape[len(shape) - n_norm:]) if n_norm else 1
    x2 = as_compute(x).reshape(-1, c)
    ct = x2.dtype
    w = np.empty(0, ct) if weight is None else as_compute(weight).astype(ct, copy=False).reshape(-1)
    b = np.empty(0, ct) if bias is None else as_compute(bias).astype(ct, copy=False).reshape(-1)
    out = np.empty_like(x2)
    mean = np.empty(x2.shape[0], ct)
    rstd = np.empty(x2.shape[0], ct)
    if x2.size:
        map_rows(_norm_k, x2.shape[0], c, x2, w, b, ct.type(eps), out, mean, rstd, center)
    stat_shape = shape[:len(shape) - n_norm] + (1,) * n_norm
    y = out.reshape(shape)
    return (y if y.dtype == dtype else y.astype(dtype)), mean.reshape(stat_shape), rstd.reshape(stat_shape)


@njit(**_J)
def _norm_bk_part(k, r0, r1, g, x, w, mean, rstd, dx, parts, center):
    _norm_bk(r0, r1, g, x, w, mean, rstd, dx, parts[k], center)


def norm_backward_rows(g2, x2, w, mean, rstd, dx, center):
    """``dx`` of the (R, C) rows (layer_norm: ``center``), row ranges over the team's threads when large;
    returns the (2, C) sums of ``g * xhat`` and ``g`` (dweight, dbias), each range's added in range order."""
    n, c = x2.shape
    chunks = row_chunks(n, c, LIGHT * MIN_CHUNK)
    padded = (c + 15) // 16 * 16 + 16  # a range's sums a cache line or more from the next range's: no false
    parts = np.zeros((chunks, 2, padded), x2.dtype)  # sharing (it made two threads slower than one)
    map_rows_indexed(_norm_bk_part, chunks, n, g2, x2, w, mean, rstd, dx, parts, center)
    tot = parts[0]
    for k in range(1, chunks):  # in range order (np.sum's set-up costs ~2 µs)
        tot = tot + parts[k]
    return tot[:, :c]


def _norm_backward(grad, x, mean, rstd, weight, n_norm, center, want_bias):
    shape = x.shape
    c = math.prod(shape[len(shape) - n_norm:]) if n_norm else 1
    x2 = as_compute(x).reshape(-1, c)
    ct = x2.dtype
    g2 = as_compute(grad).astype(ct, copy=False).reshape(-1, c)
    w = np.empty(0, ct) if weight is None else as_compute(weight).astype(ct, copy=False).reshape(-1)
    m = np.ascontiguousarray(mean, ct).reshape(-1)
    r = np.ascontiguousarray(rstd, ct).reshape(-1)
    dx = np.empty_like(x2)
    tot = norm_backward_rows(g2, x2, w, m, r, dx, center) if x2.size else np.zeros((2, c), ct)
    wshape = shape[len(shape) - n_norm:]
    dw = None if weight is None else tot[0].reshape(wshape).astype(weight.dtype, copy=False)
    bdt = weight.dtype if weight is not None else x.dtype
    db = tot[1].reshape(wshape).astype(bdt, copy=False) if want_bias else None
    return dx.reshape(shape).astype(x.dtype, copy=False), dw, db


def layer_norm_forward(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """``(y, mean, rstd)``: layer norm over the trailing ``normalized_shape`` dims.

    ``mean`` and ``rstd`` have ``x``'s leading shape followed by ones (torch's saved statistics)."""
    return _norm_forward(x, len(tuple(normalized_shape)), weight, bias, eps, True)


def layer_norm_backward(grad, x, mean, rstd, normalized_shape, weight=None, bias=None):
    """``(dx, dweight, dbias)`` (``None`` for an absent weight / bias), one pass over each row."""
    return _norm_backward(grad, x, mean, rstd, weight, len(tuple(normalized_shape)), True, bias is not None)


def rms_norm_forward(x, normalized_shape, weight=None, eps=None):
    """``(y, rstd)``: ``x / sqrt(mean(x**2) + eps) * weight`` over the trailing dims
    (``eps=None``: the dtype's machine epsilon, as torch)."""
    if eps is None:
        eps = float(np.finfo(np.float64 if x.dtype == np.float64 else
                             (x.dtype if x.dtype.kind == "f" else np.float32)).eps)
    y, _, rstd = _norm_forward(x, len(tuple(normalized_shape)), weight, None, eps, False)
    return y, rstd


def rms_norm_backward(grad, x, rstd, normalized_shape, weight=None):
    """``(dx, dweight)`` of :func:`rms_norm_forward`."""
    zeros = np.zeros_like(rstd)
    dx, dw, _ = _norm_backward(grad, x, zeros, rstd, weight, len(tuple(normalized_shape)), False, False)
    return dx, dw


# ------------------------------------------------------------------ cross_entropy
@njit(**_J)
def _ce_k(r0, r1, x, tgt, ignore, eps, loss, lse):
    c = x.shape[1]
    t = x.dtype.type
    for i in range(r0, r1):
        k = tgt[i]
        if k == ignore:
            loss[i] = t(0.0)
            lse[i] = t(0.0)
            continue
        xr = x[i]
        m = row_max(xr)
        ls = m + np.log(exp_sum(xr, m))
        lse[i] = ls
        nll = ls - xr[k]
        if eps == t(0.0):
            loss[i] = nll
            continue
        tot = t(0.0)
        for j in range(c):
            tot += xr[j]
        loss[i] = (t(1.0) - eps) * nll + eps * (ls - tot / t(c))


@njit(**_J)
def _ce_bk(r0, r1, x, tgt, ignore, eps, lse, scale, out):
    c = x.shape[1]
    t = x.dtype.type
    for i in range(r0, r1):
        o = out[i]
        k = tgt[i]
        xr = x[i]
        if k == ignore:
            # torch: 0 * exp(log_softmax), NaN where the row's log_softmax is (all -inf, +inf or NaN)
            m = row_max(xr)
            z = t(0.0) if m > -np.inf and m < np.inf else t(np.nan)
            for j in range(c):
                z = t(np.nan) if np.isnan(xr[j]) else z
            o[:] = z
            continue
        ls = lse[i]
        sc = scale[i if scale.shape[0] > 1 else 0]
        off = eps / t(c)
        for j in range(c):
            o[j] = (fast_exp_neg(xr[j] - ls) - off) * sc
        o[k] -= (t(1.0) - eps) * sc


def _ce_check(logits, target, ignore_index):
    x2 = as_compute(logits)
    if x2.ndim != 2:
        raise ValueError(f"cross_entropy kernel expects (N, C) logits, got shape {x2.shape}")
    tgt = np.ascontiguousarray(target, np.int64).reshape(-1)
    if tgt.shape[0] != x2.shape[0]:
        raise ValueError(f"Expected input batch_size ({x2.shape[0]}) to match target batch_size ({tgt.shape[0]}).")
    n_ignored = int(np.count_nonzero(tgt == ignore_index))
    if tgt.size and (tgt.min() < 0 or tgt.max() >= x2.shape[1]):
        valid = tgt != ignore_index
        bad = valid & ((tgt < 0) | (tgt >= x2.shape[1]))
        if bad.any():
            raise IndexError(f"Target {int(tgt[bad][0])} is out of bounds.")
    return x2, tgt, tgt.size - n_ignored


def cross_entropy_forward(logits, target, ignore_index: int = -100, reduction: str = "mean",
                          label_smoothing: float = 0.0):
    """``(loss, lse)`` from ``(N, C)`` logits and ``(N,)`` class targets.

    ``lse`` (per-row log-sum-exp, 0 on ignored rows) is what the backward needs.  Ignored rows
    give 0 whatever their logits (``-inf`` included); ``'mean'`` divides by the non-ignored rows."""
    x2, tgt, count = _ce_check(logits, target, ignore_index)
    ct = x2.dtype
    loss = np.empty(x2.shape[0], ct)
    lse = np.empty(x2.shape[0], ct)
    if x2.size:
        map_rows(_ce_k, x2.shape[0], x2.shape[1], x2, tgt, np.int64(ignore_index), ct.type(label_smoothing),
                 loss, lse)
    if reduction == "none":
        out = loss
    elif reduction == "sum":
        out = loss.sum(dtype=ct)
    else:
        out = ct.type(loss.sum(dtype=np.float64) / count) if count else ct.type(math.nan)
    return np.asarray(out).astype(logits.dtype, copy=False), lse


def cross_entropy_backward(grad, logits, target, lse, ignore_index: int = -100, reduction: str = "mean",
                           label_smoothing: float = 0.0):
    """d loss / d logits: ``(softmax - (1 - eps) * onehot - eps / C) * grad`` per row; ignored rows get 0
    (NaN where their log_softmax is NaN, e.g. all ``-inf``, as torch)."""
    x2, tgt, count = _ce_check(logits, target, ignore_index)
    ct = x2.dtype
    g = np.asarray(grad, ct)
    if reduction == "none":
        scale = np.ascontiguousarray(g.reshape(-1))
    else:
        scale = np.array([g.reshape(()) / (count if reduction == "mean" else 1)], ct)
    out = np.empty_like(x2)
    if x2.size:
        map_rows(_ce_bk, x2.shape[0], x2.shape[1], x2, tgt, np.int64(ignore_index), ct.type(label_smoothing),
                 np.ascontiguousarray(lse, ct), scale, out)
    return out.astype(logits.dtype, copy=False)
