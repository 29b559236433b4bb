"""multi_head_attention_forward (torch's signature and semantics) and its mask helper.

Layout follows torch: sequence first, ``(L, N, E)`` (unbatched ``(L, E)``). Attention runs through
``scaled_dot_product_attention`` unless the weights are requested (then softmax(q k^T / sqrt(d) + mask)).
"""
from __future__ import annotations

import math

import numpy as np

from ..._ops.linalg import matmul
from ..._ops.reduction import softmax
from ..._ops.shape import cat
from ..._tensor import Tensor
from .._attention import scaled_dot_product_attention
from .dropout import dropout
from .linear import linear
from .padding import pad

__all__ = ["multi_head_attention_forward"]


def _canonical_mask(mask, name, dtype):
    """bool (True = masked out) -> additive float of ``dtype``; float masks pass through."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a Tensor")
    if mask._data.dtype == np.bool_:
        return Tensor._make(np.where(mask._data, -np.inf, 0.0).astype(dtype))
    if mask._data.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


def _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """True for batched ``(L, N, E)`` input, False for unbatched ``(L, E)`` (torch's ``_mha_shape_check``)."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError("For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError("For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                                 f"found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError("For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                                 f"found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError("For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D but "
                                 f"found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError("For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                                     f"but found {attn_mask.dim()}-D tensor instead")
            if attn_mask.dim() == 3 and tuple(attn_mask.shape) != (num_heads, query.shape[0], key.shape[0]):
                raise AssertionError(f"Expected `attn_mask` shape to be {(num_heads, query.shape[0], key.shape[0])}"
                                     f" but got {tuple(attn_mask.shape)}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query "
                         "tensor")


def _in_projection(query, key, value, w, b, use_separate, wq, wk, wv):
    """q, k, v projections: one matmul for self-attention with a packed weight, else three."""
    if not use_separate and query is key and key is value:
        return linear(query, w, b).chunk(3, dim=-1)
    bq, bk, bv = b.chunk(3) if b is not None else (None, None, None)
    if not use_separate:
        wq, wk, wv = w.chunk(3)
    return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)


def _pad_key(mask):
    return None if mask is None else pad(mask, (0, 1))


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """Multi-head attention on ``(L, N, E)`` query and ``(S, N, E)`` key/value; returns (output, weights or None).

    >>> import tensorstein as ts
    >>> x, w_in, w_o = ts.randn(5, 2, 8), ts.randn(24, 8), ts.randn(8, 8)  # (L, N, E), (3E, E), (E, E)
    >>> out, w = multi_head_attention_forward(x, x, x, 8, 2, w_in, None, None, None, False, 0.0, w_o, None)
    >>> tuple(out.shape), tuple(w.shape)
    ((5, 2, 8), (2, 5, 5))
    """
    is_batched = _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    fdt = query._data.dtype
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", fdt)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint alone: SDPA builds the causal pattern
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", fdt)
        if key_padding_mask is not None:
            is_causal = False
    if E != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    H = num_heads
    hd = E // H
    if hd * H != E:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {H}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                                 f"{value.shape[:2]}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
    q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias, use_separate_proj_weight,
                             q_proj_weight, k_proj_weight, v_proj_weight)  # (L, N, E), (S, N, E) x 2

    if attn_mask is not None:
        S = key.shape[0]
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (L, S):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(L, S)}.")
            attn_mask = attn_mask.unsqueeze(0)  # (1, L, S)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (N * H, L, S):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(N * H, L, S)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key." if static_k is not None
                                 else "bias cannot be added to static value.")
        k = cat([k, bias_k.expand(1, N, E)])
        v = cat([v, bias_v.expand(1, N, E)])
        attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must both be given or both be None")

    q = q.reshape(L, N * H, hd).transpose(0, 1)  # (N*H, L, hd)
    k = _heads(k, static_k, N * H, hd, "key")  # (N*H, S, hd)
    v = _heads(v, static_v, N * H, hd, "value")  # (N*H, S, hd)
    if add_zero_attn:
        z = Tensor._make(np.zeros((N * H, 1, hd), fdt))
        k, v = cat([k, z], dim=1), cat([v, z], dim=1)
        attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
    S = k.shape[1]

    if key_padding_mask is not None:
        for i, want in enumerate((N, S)):
            if key_padding_mask.shape[i] != want:
                raise AssertionError(f"Expected key_padded_mask.shape[{i}] to be {want}, but got "
                                     f"{key_padding_mask.shape[i]}")
        kpm = key_padding_mask.reshape(N, 1, 1, S).expand(N, H, 1, S).reshape(N * H, 1, S)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if attn_mask is not None and attn_mask.dtype is not q.dtype:
        attn_mask = attn_mask.to(q.dtype)
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = matmul(q * math.sqrt(1.0 / hd), k.transpose(-2, -1))  # (N*H, L, S)
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = matmul(weights, v).transpose(0, 1).reshape(L * N, E)  # (L*N, E)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(L, N, E)
        weights = weights.reshape(N, H, L, S)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else attn_mask.reshape(N, H, -1, S)
    q, k, v = (t.reshape(N, H, -1, hd) for t in (q, k, v))  # (N, H, L|S, hd)
    out = scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal)
    out = out.permute(2, 0, 1, 3).reshape(L * N, E)  # (L*N, E)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(L, N, E)
    return (out if is_batched else out.squeeze(1)), None


def _self_attention_batch_first(x, num_heads, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
                                attn_mask, dropout_p, is_causal):
    """:func:`multi_head_attention_forward` for batch-first self-attention with a packed projection, no
    weights returned and at most an (L, L) mask, on ``x`` (N, L, E) itself: the heads are views of the
    projection, handed to SDPA as they are (the sequence-first route copies them twice). Returns (N, L, E).

    >>> import tensorstein as ts
    >>> x, w_in, w_o = ts.randn(2, 5, 8), ts.randn(24, 8), ts.randn(8, 8)
    >>> tuple(_self_attention_batch_first(x, 2, w_in, None, w_o, None, None, 0.0, False).shape)
    (2, 5, 8)
    """
    N, L, E = x.shape
    hd = E // num_heads
    if hd * num_heads != E:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {num_heads}")
    if is_causal:
        if attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                               "method `generate_square_subsequent_mask` to create this mask.")
        attn_mask = None  # the hint alone: SDPA builds the causal pattern
    attn_mask = _canonical_mask(attn_mask, "attn_mask", x._data.dtype)
    if attn_mask is not None and attn_mask.dtype is not x.dtype:
        attn_mask = attn_mask.to(x.dtype)
    qkv = linear(x, in_proj_weight, in_proj_bias)  # (N, L, 3E)
    q, k, v = (t.reshape(N, L, num_heads, hd).permute(0, 2, 1, 3) for t in qkv.chunk(3, dim=-1))  # (N, H, L, hd)
    out = scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal)
    out = out.transpose(1, 2).reshape(N * L, E)  # (N*L, E)
    return linear(out, out_proj_weight, out_proj_bias).reshape(N, L, E)


def _heads(t, static, nh, hd, name):
    """``(S, N, E)`` -> ``(N*H, S, hd)``, or the given ``static_k``/``static_v``."""
    if static is None:
        return t.reshape(t.shape[0], nh, hd).transpose(0, 1)
    if static.shape[0] != nh:
        raise AssertionError(f"expecting static_{name[0]}.size(0) of {nh}, but got {static.shape[0]}")
    if static.shape[2] != hd:
        raise AssertionError(f"expecting static_{name[0]}.size(2) of {hd}, but got {static.shape[2]}")
    return static
