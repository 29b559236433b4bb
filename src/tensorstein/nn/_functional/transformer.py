"""_transformer_encoder_layer_fwd: the inference fast path of an encoder layer (torch's
``torch._transformer_encoder_layer_fwd``), one library op for TransformerEncoderLayer-style and BERT layers.

No dropout: callers use it in eval mode under ``no_grad``. Every step is a library op (``linear``, ``matmul``,
``softmax`` / ``_masked_softmax``, ``layer_norm``, ``gelu``/``relu``); the packed q/k/v split is views.
Shapes: B batch, L length, C embed dim, H heads, D = C / H.
"""
from __future__ import annotations

import math

from ... import _dtype as D_
from ..._ops.linalg import matmul
from ..._ops.reduction import softmax
from .activation import _masked_softmax, gelu, relu
from .linear import linear
from .normalization import layer_norm

__all__ = ["_transformer_encoder_layer_fwd"]


def _attention(q, k, v, mask, mask_type):
    """softmax(q k^T / sqrt(D) [+ mask]) v on (B, H, L, D) views; bool mask True = masked out."""
    B, H, L, D = q.shape
    scores = matmul(q * (1.0 / math.sqrt(D)), k.transpose(-2, -1))  # (B, H, L, L)
    if mask is None:
        p = softmax(scores, -1)
    elif mask.dtype is D_.bool_:
        p = _masked_softmax(scores, mask.reshape(1, 1, L, L) if mask_type == 0 else mask, -1, mask_type)
    else:
        m = mask.reshape(B, 1, 1, L) if mask_type == 1 else mask
        p = softmax(scores + m.to(scores.dtype), -1)
    return matmul(p, v)  # (B, H, L, D)


def _transformer_encoder_layer_fwd(src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias,
                                   use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2,
                                   norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2, mask=None,
                                   mask_type=None):
    """One encoder layer on batch-first ``src`` (B, L, C): self-attention with a packed (3C, C) projection,
    then the feed-forward block, each with a residual and LayerNorm (post-norm, or pre-norm with ``norm_first``).

    ``mask``: bool (True = masked out) or additive float; ``mask_type`` 0 = (L, L) attention mask,
    1 = (B, L) key padding mask, 2 (or None) = any shape broadcastable to (B, H, L, L).

    >>> y = F._transformer_encoder_layer_fwd(x, 8, 2, w_qkv, b_qkv, w_o, b_o, True, False, 1e-5, ...)
    """
    B, L, C = src.shape
    H = num_heads
    D = embed_dim // H
    norm = (embed_dim,)
    x = src
    h = layer_norm(x, norm, norm_weight_1, norm_bias_1, eps) if norm_first else x
    qkv = linear(h, qkv_weight, qkv_bias).reshape(B, L, 3, H, D)  # (B, L, 3, H, D)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # 3 x (B, H, L, D) views
    ctx = _attention(q, k, v, mask, mask_type).transpose(1, 2).reshape(B, L, C)  # (B, L, C)
    a = linear(ctx, proj_weight, proj_bias)
    if norm_first:
        x = x + a
        h = layer_norm(x, norm, norm_weight_2, norm_bias_2, eps)
    else:
        x = h = layer_norm(x + a, norm, norm_weight_1, norm_bias_1, eps)
    f = linear(h, ffn_weight_1, ffn_bias_1)  # (B, L, F)
    f = gelu(f) if use_gelu else relu(f)
    f = linear(f, ffn_weight_2, ffn_bias_2)  # (B, L, C)
    if norm_first:
        return x + f
    return layer_norm(x + f, norm, norm_weight_2, norm_bias_2, eps)
