"""``scaled_dot_product_attention`` on tensors: option checks and path selection.

Paths:

* ``flash``: the tiled NumPy/Numba kernel (:mod:`tensorstein._kernels.flash_attention`),
  with a fused backward node (``ScaledDotProductFlashAttentionForCpuBackward0``).
  Memory O(N*d).  No double backward (as torch's flash kernels).
* ``math``: torch's reference formula written with tensor ops; used for
  ``dropout_p > 0``, an ``attn_mask`` that requires grad, a backward with
  ``create_graph``-style needs (select it with ``sdpa_kernel(SDPBackend.MATH)``),
  and non-float dtypes.
* ``flex``: tile-by-tile Python path for ``score_mod`` / ``mask_mod``, with
  gradients through ``score_mod``.
"""

from __future__ import annotations

import contextlib
import enum
import math

import numpy as np

from .. import _dtype as D
from .._autocast import _local as _autocast, lower_precision
from .._autograd.grad_mode import STATE, enable_grad, no_grad
from .._autograd.graph import attach, node_type, run_backward
from .._kernels.attention_common import index_mask, prepare
from .._kernels.attention_flex import flex_attention_backward, flex_attention_forward
from .._kernels.flash_attention import attention_backward, attention_forward
from .._tensor import Tensor

__all__ = ["SDPBackend", "sdpa_kernel", "scaled_dot_product_attention"]

FlashBackward = node_type("ScaledDotProductFlashAttentionForCpuBackward0")
FlexBackward = node_type("FlexAttentionBackward0")

_C10 = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
        "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
        "uint8": "unsigned char", "bool": "bool"}


def _c10(t):
    return _C10.get(t.dtype.name, t.dtype.name)


class SDPBackend(enum.IntEnum):
    """Which SDPA implementation may run (mirrors ``torch.nn.attention.SDPBackend``).

    ``FLASH_ATTENTION`` and ``EFFICIENT_ATTENTION`` both select the tiled kernel;
    ``MATH`` the tensor-op reference; ``CUDNN_ATTENTION``/``OVERRIDEABLE`` never apply.
    """

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_ALL = frozenset(SDPBackend) - {SDPBackend.ERROR}
_enabled = [_ALL]


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """Context manager restricting the SDPA backends (``torch.nn.attention.sdpa_kernel``)."""
    if isinstance(backends, SDPBackend):
        backends = [backends]
    backends = list(backends)
    for b in backends:
        if not isinstance(b, SDPBackend):
            raise AssertionError("Backend must be an instance of SDPBackend")
    prev = _enabled[0]
    _enabled[0] = frozenset(backends)
    try:
        yield
    finally:
        _enabled[0] = prev


def enabled_backends():
    return set(_enabled[0])


# ---------------------------------------------------------------- checks / reshapes
def _check_inputs(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' (position "
                            f"{['query', 'key', 'value'].index(name) + 1}) must be Tensor, "
                            f"not {type(t).__name__}")
    if not (query.dtype is key.dtype and key.dtype is value.dtype):
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{_c10(query)} key.dtype: {_c10(key)} and value.dtype: {_c10(value)} instead.")
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(
            "Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
            f"{query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} instead.")
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError("attn_mask must be a Tensor or None")
        md = attn_mask.dtype
        if not (md is D.bool_ or md is D.float32 or md is query.dtype):
            raise RuntimeError(
                "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                f"attn_mask.dtype: {_c10(attn_mask)} and  query.dtype: {_c10(query)} instead.")
    if not 0.0 <= float(dropout_p) <= 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if value._data.size == 0:  # torch returns early (see scaled_dot_product_attention)
        return
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"Expected query and key to have the same head dimension, but got query: "
            f"{query.shape[-1]} and key: {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"Expected key and value to have the same sequence length, but got key: "
            f"{key.shape[-2]} and value: {value.shape[-2]}")
    if enable_gqa and query.dim() >= 3 and key.dim() >= 3 and value.dim() >= 3:
        H, Hk, Hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if Hk != Hv or Hk == 0 or H % Hk != 0:
            raise RuntimeError("Number of heads in key and value must divide the number of heads in ")


def _broadcast_shapes(*shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        a, b = shapes[0], shapes[1]
        from .._ops.errors import broadcast_error

        raise broadcast_error(a, b) from None


class _Layout:
    """How tensors of any batch shape map to the kernels' (B, H, L, E)."""

    def __init__(self, q, k, v, enable_gqa):
        qb, kb, vb = q.shape[:-2], k.shape[:-2], v.shape[:-2]
        self.L, self.E = q.shape[-2], q.shape[-1]
        self.S, self.Ev = k.shape[-2], v.shape[-1]
        gqa = enable_gqa and len(qb) >= 1 and len(kb) >= 1 and len(vb) >= 1
        if gqa:
            H, Hk = qb[-1], kb[-1]
            outer = _broadcast_shapes(qb[:-1], kb[:-1], vb[:-1])
        else:
            batch = _broadcast_shapes(qb, kb, vb)
            outer, H = (batch[:-1], batch[-1]) if batch else ((), 1)
            khead = kb[-1] if kb else 1
            vhead = vb[-1] if vb else 1
            # a single shared kv head behaves like grouped-query attention: no copy
            Hk = 1 if (khead == 1 and vhead == 1) else H
        self.outer, self.H, self.Hk = tuple(outer), H, Hk
        self.batch = self.outer + (H,)
        # the user-visible batch shape of the output (no invented head dim)
        self.out_batch = self.batch if (gqa or batch) else ()
        self.kv_batch = self.outer + (Hk,) if (gqa or batch) else ()

    def out_shape(self, *tail):
        return self.out_batch + tail

    def kv_shape(self, *tail):
        return self.kv_batch + tail

    def to4(self, a, heads):
        """View ``a`` (..., X, Y) as (B, heads, X, Y), broadcasting the batch dims."""
        tail = a.shape[-2:]
        a = np.broadcast_to(a, self.outer + (heads,) + tail)
        return a.reshape((-1, heads) + tail)

    def mask4(self, m):
        m = np.broadcast_to(m, self.batch + (self.L, self.S))
        return m.reshape((-1, self.H, self.L, self.S))


def _compute_dtype(t):
    if t.dtype is D.float32 or t.dtype is D.float64:
        return t._data.dtype
    return np.dtype(np.float32)


# ---------------------------------------------------------------- math path (tensor ops)
def _band_bias(L, S, is_causal, alignment, window, dtype):
    """Additive 0/-inf (L, S) array for causal/window, or None."""
    if not is_causal and window is None:
        return None
    dummy_q = np.empty((1, 1, L, 1), np.float32)
    dummy_k = np.empty((1, 1, S, 1), np.float32)
    spec = prepare(dummy_q, dummy_k, dummy_k, causal=alignment if is_causal else None,
                   window=window, alignment=alignment)
    return np.where(index_mask(spec, 0, L, 0, S), 0.0, -np.inf).astype(dtype)


def _math_sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa,
               alignment, window):
    from .._ops.creation import empty_like
    from .._ops.random import bernoulli_
    from .._ops.linalg import matmul
    from .._ops.reduction import softmax

    half = query.dtype is D.float16 or query.dtype is D.bfloat16
    if half:  # torch's math path computes float16/bfloat16 in float32
        out_dtype = query.dtype
        query, key, value = query.float(), key.float(), value.float()
    L, S = query.shape[-2], key.shape[-2]
    dt = query._data.dtype
    E = query.shape[-1]
    scale_factor = (1.0 / math.sqrt(E) if E else 1.0) if scale is None else float(scale)
    if enable_gqa and query.dim() >= 3 and key.dim() >= 3:
        G = query.shape[-3] // key.shape[-3]
        if G > 1:
            key = key.unsqueeze(-3).expand(*key.shape[:-2], G, S, key.shape[-1])
            key = key.flatten(-4, -3)
            value = value.unsqueeze(-3).expand(*value.shape[:-2], G, S, value.shape[-1])
            value = value.flatten(-4, -3)
    w = matmul(query, key.transpose(-2, -1)) * scale_factor
    bias_np = _band_bias(L, S, is_causal, alignment, window, dt)
    dead = None
    if attn_mask is not None:
        if attn_mask.dtype is D.bool_:
            mb = np.where(attn_mask._data, 0.0, -np.inf).astype(dt)
            bias_np = mb if bias_np is None else bias_np + mb
        elif not attn_mask.requires_grad:
            mb = attn_mask._data.astype(dt)
            bias_np = mb if bias_np is None else bias_np + mb
    if bias_np is not None:
        w = w + Tensor._make(bias_np)
    if attn_mask is not None and attn_mask.dtype is not D.bool_ and attn_mask.requires_grad:
        w = w + attn_mask
    # rows masked entirely (all -inf): softmax would give NaN; torch returns zeros (NaN scores propagate)
    wd = w._data
    dead_np = (wd == -np.inf).all(axis=-1, keepdims=True) if wd.size else None
    if dead_np is not None and dead_np.any():
        dead = Tensor._make(dead_np)
        w = w.masked_fill(dead, 0.0)
    p = softmax(w, -1)
    if dead is not None:
        p = p.masked_fill(dead, 0.0)
    if dropout_p > 0.0:
        if dropout_p >= 1.0:
            p = p * 0.0
        else:
            keep = bernoulli_(empty_like(p), 1.0 - dropout_p)  # torch's dropout mask
            p = p * (keep / (1.0 - dropout_p))
    out = matmul(p, value)
    return out.to(out_dtype) if half else out


# ---------------------------------------------------------------- flash path
def _kernel_inputs(query, key, value, attn_mask, enable_gqa):
    """The layout, compute dtype and (B, H, L, E)-shaped arrays (mask included) the kernels take."""
    lay = _Layout(query, key, value, enable_gqa)
    cdt = _compute_dtype(query)
    q4 = lay.to4(np.asarray(query._data, dtype=cdt), lay.H)  # (B, H, L, E)
    k4 = lay.to4(np.asarray(key._data, dtype=cdt), lay.Hk)  # (B, Hk, S, E)
    v4 = lay.to4(np.asarray(value._data, dtype=cdt), lay.Hk)  # (B, Hk, S, Ev)
    mask4 = None
    if attn_mask is not None:
        m = attn_mask._data
        if m.dtype != np.bool_ and m.dtype != cdt:
            m = m.astype(cdt)
        mask4 = lay.mask4(m)
    return lay, cdt, q4, k4, v4, mask4


_CAUSAL_MASKS: dict = {}  # (L, S, dtype) -> the top-left causal mask of that dtype (0 / -inf, or tril True)


def _is_causal_mask(m, L: int, S: int) -> bool:
    """Whether the mask array ``m`` is exactly the top-left causal pattern (an additive 0 / -inf upper
    triangle, or a boolean lower triangle), perhaps with leading dims of 1: ``is_causal``'s, which the kernels
    run without the masked half (a Transformer's ``triu(full(-inf), 1)`` mask). ~3 µs at 64 x 64."""
    if m.shape[-2:] != (L, S) or m.size != L * S or not (m.dtype == np.bool_ or m.dtype.kind == "f"):
        return False
    key = (L, S, m.dtype)
    causal = _CAUSAL_MASKS.get(key)
    if causal is None:
        if len(_CAUSAL_MASKS) > 64:
            _CAUSAL_MASKS.clear()
        below = np.tri(L, S, dtype=bool)
        causal = _CAUSAL_MASKS[key] = below if m.dtype == np.bool_ else np.where(below, 0, -np.inf).astype(m.dtype)
    return bool(np.array_equal(m.reshape(L, S), causal))


def _flash_sdpa(query, key, value, attn_mask, is_causal, scale, enable_gqa, alignment, window,
                return_lse):
    if attn_mask is not None and not is_causal and window is None and not attn_mask.requires_grad and \
            _is_causal_mask(attn_mask._data, query.shape[-2], key.shape[-2]):
        attn_mask, is_causal, alignment = None, True, "top_left"
    lay, cdt, q4, k4, v4, mask4 = _kernel_inputs(query, key, value, attn_mask, enable_gqa)
    causal = alignment if is_causal else None
    align = alignment if (window is not None and not is_causal) else None
    opts = dict(scale=scale, causal=causal, window=window, mask=mask4, alignment=align)
    out4, lse4 = attention_forward(q4, k4, v4, **opts)
    out4 = _propagate_nonfinite(out4, q4, k4, lay, mask4, is_causal, alignment, window)
    out_dt = query._data.dtype
    out = Tensor._make(out4.reshape(lay.out_shape(lay.L, lay.Ev)).astype(out_dt, copy=False))
    lse = Tensor._make(lse4.reshape(lay.out_shape(lay.L)))

    def backward(g):
        if STATE.enabled:
            raise RuntimeError(
                "derivative for aten::_scaled_dot_product_flash_attention_for_cpu_backward is not "
                "implemented (use sdpa_kernel(SDPBackend.MATH) for double backward)")
        g4 = lay.to4(np.asarray(g._data, dtype=cdt), lay.H)
        dq, dk, dv = attention_backward(q4, k4, v4, out4, lse4, g4, **opts)
        return (Tensor._make(dq.reshape(lay.out_shape(lay.L, lay.E))),
                Tensor._make(dk.reshape(lay.kv_shape(lay.S, lay.E))),
                Tensor._make(dv.reshape(lay.kv_shape(lay.S, lay.Ev))))

    out = attach(out, FlashBackward, backward, (query, key, value), saved=(query, key, value))
    return (out, lse) if return_lse else out


def _all_finite(a) -> bool:
    """True when ``a`` holds no NaN/inf, from one BLAS dot product (a NaN/inf makes it non-finite; an overflow
    of huge finite values only sends the caller to its exact element-wise check)."""
    flat = a.reshape(-1) if a.flags.c_contiguous else np.ascontiguousarray(a).reshape(-1)
    with np.errstate(all="ignore"):
        return bool(np.isfinite(np.dot(flat, flat)))


def _propagate_nonfinite(out4, q4, k4, lay, mask4, is_causal, alignment, window):
    """torch's flash kernel: a NaN/inf in query row ``i`` makes output row ``i`` NaN, one in key ``j`` every
    output row that attends to ``j``."""
    if _all_finite(q4) and _all_finite(k4):
        return out4
    qbad = ~np.isfinite(q4).all(axis=-1)  # (B, H, L)
    kbad = ~np.isfinite(k4).all(axis=-1)  # (B, Hk, S)
    if qbad.any():
        out4 = np.array(out4, copy=True)
        out4[qbad] = np.nan
    if not kbad.any():
        return out4
    vis = np.ones((lay.L, lay.S), bool)
    band = _band_bias(lay.L, lay.S, is_causal, alignment, window, np.float32)
    if band is not None:
        vis = band == 0
    vis = np.broadcast_to(vis, out4.shape[:2] + vis.shape)
    if mask4 is not None:
        vis = vis & (mask4 if mask4.dtype == np.bool_ else mask4 != -np.inf)
    kb = np.repeat(kbad, lay.H // lay.Hk, axis=1)[:, :, None, :]  # (B, H, 1, S)
    rows = (vis & kb).any(axis=-1)  # (B, H, L)
    out4 = np.array(out4, copy=True)
    out4[rows] = np.nan
    return out4


# ---------------------------------------------------------------- flex path
def _flex_sdpa(query, key, value, attn_mask, is_causal, scale, enable_gqa, alignment, window,
               score_mod, mask_mod, return_lse):
    lay, cdt, q4, k4, v4, mask4 = _kernel_inputs(query, key, value, attn_mask, enable_gqa)
    def mm(b, h, qi, ki):
        with no_grad():
            r = mask_mod(b, h, Tensor._make(qi), Tensor._make(ki))
        return r._data if isinstance(r, Tensor) else np.asarray(r)

    def sm_fwd(s, b, h, qi, ki):
        with no_grad():
            r = score_mod(Tensor._make(s), b, h, Tensor._make(qi), Tensor._make(ki))
        return r._data if isinstance(r, Tensor) else np.asarray(r)

    def sm_vjp(s, b, h, qi, ki):
        st = Tensor._make(s.copy())
        st.requires_grad = True
        with enable_grad():
            r = score_mod(st, b, h, Tensor._make(qi), Tensor._make(ki))
        if not isinstance(r, Tensor) or r.grad_fn is None:
            rd = r._data if isinstance(r, Tensor) else np.asarray(r)
            return rd, (lambda g: np.zeros_like(s))

        def vjp(g):
            # accumulates into st.grad and into leaves captured by score_mod
            run_backward((r,), (Tensor._make(np.ascontiguousarray(g, dtype=r._data.dtype)),),
                         False, False)
            return st.grad._data if st.grad is not None else np.zeros_like(s)

        return r._data, vjp

    causal = alignment if is_causal else None
    align = alignment if (window is not None and not is_causal) else None
    opts = dict(scale=scale, causal=causal, window=window, mask=mask4, alignment=align,
                mask_mod=mm if mask_mod is not None else None)
    out4, lse4 = flex_attention_forward(q4, k4, v4, score_mod=sm_fwd if score_mod else None,
                                        **opts)
    out_dt = query._data.dtype
    out = Tensor._make(out4.reshape(lay.out_shape(lay.L, lay.Ev)).astype(out_dt, copy=False))
    lse = Tensor._make(lse4.reshape(lay.out_shape(lay.L)))

    def backward(g):
        if STATE.enabled:
            raise RuntimeError("double backward through score_mod/mask_mod attention is not supported")
        g4 = lay.to4(np.asarray(g._data, dtype=cdt), lay.H)
        dq, dk, dv = flex_attention_backward(
            q4, k4, v4, out4, lse4, g4, score_mod_vjp=sm_vjp if score_mod else None, **opts)
        return (Tensor._make(dq.reshape(lay.out_shape(lay.L, lay.E))),
                Tensor._make(dk.reshape(lay.kv_shape(lay.S, lay.E))),
                Tensor._make(dv.reshape(lay.kv_shape(lay.S, lay.Ev))))

    out = attach(out, FlexBackward, backward, (query, key, value), saved=(query, key, value))
    return (out, lse) if return_lse else out


# ---------------------------------------------------------------- entry point
def select_path(query, key, value, attn_mask=None, dropout_p=0.0, score_mod=None, mask_mod=None):
    """Which implementation :func:`scaled_dot_product_attention` will use."""
    if score_mod is not None or mask_mod is not None:
        return "flex"
    allowed = _enabled[0]
    fused_ok = bool(allowed & {SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION})
    needs_math = (dropout_p > 0.0
                  or (attn_mask is not None and attn_mask.requires_grad)
                  or not query.dtype.is_floating_point)
    empty = not (query._data.size and key._data.size and value._data.size)  # torch: zeros/empty, via math
    # torch's fused CPU kernel takes 4-D inputs only: other ranks get the math path's NaN/inf semantics
    nonfinite = query.dim() != 4 and not (np.isfinite(query._data).all() and np.isfinite(key._data).all())
    if fused_ok and not needs_math and not empty and not nonfinite:
        return "flash"
    if SDPBackend.MATH in allowed:
        return "math"
    raise RuntimeError("No available kernel. Aborting execution.")


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False, *,
                                 causal_alignment="top_left", window=None, score_mod=None,
                                 mask_mod=None, return_lse=False):
    """torch's ``F.scaled_dot_product_attention`` plus keyword-only extras.

    Extras: ``causal_alignment`` (``'top_left'`` = torch's ``is_causal``,
    ``'bottom_right'``: query ``i`` sees keys ``j <= i + S - L``), ``window=(left,
    right)`` sliding window around that diagonal (``None`` side = unbounded),
    ``score_mod(score, b, h, q_idx, kv_idx)`` and ``mask_mod(b, h, q_idx, kv_idx)``
    applied tile by tile (``q_idx`` ``(bq, 1)``, ``kv_idx`` ``(1, bk)`` int64
    tensors; gradients flow through ``score_mod`` to ``score`` and to leaf
    tensors it captures), ``return_lse`` (also return the log-sum-exp,
    ``(..., L)``, without gradient).  Fully masked rows give zeros.
    """
    if _autocast.enabled:
        query, key, value, attn_mask = lower_precision(query, key, value, attn_mask)
    _check_inputs(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    if value._data.size == 0:  # torch, without shape checks: (*query batch, L, Ev) zeros, NaN if q or k is not finite
        bad = not (np.isfinite(query._data).all() and np.isfinite(key._data).all())
        return Tensor._make(np.full(query.shape[:-1] + (value.shape[-1],), np.nan if bad else 0.0, query._data.dtype))
    if causal_alignment not in ("top_left", "bottom_right"):
        raise ValueError(f"causal_alignment must be 'top_left' or 'bottom_right', got "
                         f"{causal_alignment!r}")
    if window is not None:
        window = tuple(window)
        if len(window) != 2:
            raise ValueError("window must be a pair (left, right)")
    dropout_p = float(dropout_p)
    if attn_mask is not None and is_causal and SDPBackend.MATH in _enabled[0] and not (
            _enabled[0] & {SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION}):
        # torch combines mask and causal pattern in its fused CPU kernel only; its math backend refuses
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                           "is_causal=True")
    path = select_path(query, key, value, attn_mask, dropout_p, score_mod, mask_mod)
    if path == "flex":
        if dropout_p > 0:
            raise RuntimeError("dropout_p > 0 is not supported together with score_mod/mask_mod")
        return _flex_sdpa(query, key, value, attn_mask, is_causal, scale, enable_gqa,
                          causal_alignment, window, score_mod, mask_mod, return_lse)
    if path == "flash":
        return _flash_sdpa(query, key, value, attn_mask, is_causal, scale, enable_gqa,
                           causal_alignment, window, return_lse)
    out = _math_sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa,
                     causal_alignment, window)
    if return_lse:
        raise RuntimeError("return_lse=True is not supported on the MATH backend")
    return out
