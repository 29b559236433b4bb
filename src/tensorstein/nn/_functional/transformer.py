"""_transformer_encoder_layer_fwd: the inference fast path of an encoder layer (torch's
``torch._transformer_encoder_layer_fwd``), one library op for TransformerEncoderLayer-style and BERT layers.

No dropout: callers use it in eval mode under ``no_grad``. Every step is a library op (``linear``, ``matmul``,
``softmax`` / ``_masked_softmax``, ``layer_norm`` / ``_add_layer_norm``, ``gelu``/``relu``); the packed
q/k/v split is views. Shapes: B batch, L length, C embed dim, H heads, D = C / H.
"""
from __future__ import annotations

import math

from ... import _dtype as D_
from ..._ops.linalg import matmul
from ..._ops.reduction import softmax
from .activation import _masked_softmax, gelu, relu
from .linear import linear
from .normalization import _add_layer_norm, layer_norm

__all__ = ["_transformer_encoder_layer_fwd"]


def _self_attention(h, num_heads, qkv_weight, qkv_bias, proj_weight, mask, mask_type):
    """softmax(q k^T / sqrt(D) [+ mask]) v @ proj_weight^T for (B, L, C) ``h``; bool mask True = masked out.
    A function of its own so every intermediate is freed on return."""
    B, L, C = h.shape
    H = num_heads
    qkv = linear(h, qkv_weight, qkv_bias).reshape(B, L, 3, H, C // H)  # (B, L, 3, H, D)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # 3 x (B, H, L, D) views
    scores = matmul(q * (1.0 / math.sqrt(C // H)), k.transpose(-2, -1))  # (B, H, L, L)
    if mask is None:
        p = softmax(scores, -1)
    elif mask.dtype is D_.bool_:
        p = _masked_softmax(scores, mask.reshape(1, 1, L, L) if mask_type == 0 else mask, -1, mask_type)
    else:
        p = softmax(scores + (mask.reshape(B, 1, 1, L) if mask_type == 1 else mask).to(scores.dtype), -1)
    del scores
    ctx = matmul(p, v).transpose(1, 2).reshape(B, L, C)  # (B, L, C)
    del p, q, k, v, qkv
    return linear(ctx, proj_weight, None)  # (B, L, C), the bias is added by the caller's residual LayerNorm


def _feed_forward(h, use_gelu, w1, b1, w2):
    f = linear(h, w1, b1)  # (B, L, F)
    return linear(gelu(f) if use_gelu else relu(f), w2, None)  # (B, L, C), bias added by the caller


def _transformer_encoder_layer_fwd(src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias,
                                   use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2,
                                   norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2, mask=None,
                                   mask_type=None):
    """One encoder layer on batch-first ``src`` (B, L, C): self-attention with a packed (3C, C) projection,
    then the feed-forward block, each with a residual and LayerNorm (post-norm, or pre-norm with ``norm_first``).

    ``mask``: bool (True = masked out) or additive float; ``mask_type`` 0 = (L, L) attention mask,
    1 = (B, L) key padding mask, 2 (or None) = any shape broadcastable to (B, H, L, L).

    >>> import tensorstein as ts
    >>> C, Fd = 8, 16
    >>> one, zero = ts.ones(C), ts.zeros(C)
    >>> y = _transformer_encoder_layer_fwd(ts.randn(2, 5, C), C, 2, ts.randn(3 * C, C), ts.zeros(3 * C),
    ...     ts.randn(C, C), zero, True, False, 1e-5, one, zero, one, zero, ts.randn(Fd, C), ts.zeros(Fd),
    ...     ts.randn(C, Fd), zero)
    >>> tuple(y.shape)
    (2, 5, 8)
    """
    norm = (embed_dim,)
    x = src
    h = layer_norm(x, norm, norm_weight_1, norm_bias_1, eps) if norm_first else x
    a = _self_attention(h, num_heads, qkv_weight, qkv_bias, proj_weight, mask, mask_type)
    if norm_first:
        x = x + a + proj_bias if proj_bias is not None else x + a
        h = layer_norm(x, norm, norm_weight_2, norm_bias_2, eps)
    else:
        x = h = _add_layer_norm(a, proj_bias, x, norm, norm_weight_1, norm_bias_1, eps)
    del a
    f = _feed_forward(h, use_gelu, ffn_weight_1, ffn_bias_1, ffn_weight_2)
    if norm_first:
        return x + f + ffn_bias_2 if ffn_bias_2 is not None else x + f
    return _add_layer_norm(f, ffn_bias_2, x, norm, norm_weight_2, norm_bias_2, eps)
