"""MultiheadAttention, TransformerEncoderLayer, TransformerEncoder (torch semantics
and state-dict names).  Attention runs through ``scaled_dot_product_attention``
(tiled kernel) unless the attention weights are requested."""

from __future__ import annotations

import copy
import math

import numpy as np

from ..._tensor import Tensor
from ..parameter import Parameter
from .container import ModuleList
from .layers import Dropout, LayerNorm, Linear
from .module import Module

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
           "generate_square_subsequent_mask"]


class NonDynamicallyQuantizableLinear(Linear):
    """The ``Linear`` torch uses for ``MultiheadAttention.out_proj`` (same parameters; torch's repr)."""


def generate_square_subsequent_mask(sz, dtype=None):
    """Float mask with ``-inf`` above the diagonal (``nn.Transformer.generate_square_subsequent_mask``)."""
    from ... import _dtype as D

    dt = (dtype or D.get_default_dtype()).np
    return Tensor._make(np.triu(np.full((sz, sz), -np.inf, dtype=dt), 1))


def _canonical_mask(mask, name, dtype):
    """bool (True = masked out) -> additive float; float masks pass through."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a Tensor")
    if mask._data.dtype == np.bool_:
        return Tensor._make(np.where(mask._data, -np.inf, 0.0).astype(dtype))
    if mask._data.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


class MultiheadAttention(Module):
    """``torch.nn.MultiheadAttention`` (same parameters, masks and return values)."""

    __constants__ = ["batch_first"]

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                             f"and num_heads={num_heads} instead")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        npdt = dtype.np if dtype is not None else np.float32
        self._npdt = npdt
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(Tensor._make(np.empty((embed_dim, embed_dim), npdt)))
            self.k_proj_weight = Parameter(Tensor._make(np.empty((embed_dim, self.kdim), npdt)))
            self.v_proj_weight = Parameter(Tensor._make(np.empty((embed_dim, self.vdim), npdt)))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(Tensor._make(np.empty((3 * embed_dim, embed_dim), npdt)))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(Tensor._make(np.zeros(3 * embed_dim, npdt)))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias)
        if dtype is not None:
            self.out_proj.to(dtype)
        if add_bias_kv:
            self.bias_k = Parameter(Tensor._make(np.empty((1, 1, embed_dim), npdt)))
            self.bias_v = Parameter(Tensor._make(np.empty((1, 1, embed_dim), npdt)))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        from .. import init

        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            if self.out_proj.bias is not None:
                init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        from ..._ops.linalg import matmul
        from ..._ops.reduction import softmax
        from ..._ops.shape import cat
        from .._attention import scaled_dot_product_attention
        from .._functional.misc import dropout as F_dropout, linear

        is_batched = query.dim() == 3
        if query.dim() not in (2, 3):
            raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                                 f"{query.dim()}-D query tensor")
        if self.batch_first and is_batched:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        if not is_batched:
            query, key, value = (x.unsqueeze(1) for x in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        L, N, E = query.shape
        S = key.shape[0]
        H, hd = self.num_heads, self.head_dim
        if E != self.embed_dim:
            raise AssertionError(f"was expecting embedding dimension of {self.embed_dim}, but got {E}")
        fdt = query._data.dtype

        if is_causal and attn_mask is None:
            raise RuntimeError(
                "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                "module method `generate_square_subsequent_mask` to create this mask.")
        use_causal_hint = is_causal and key_padding_mask is None and not need_weights
        if use_causal_hint:
            attn_mask = None
        else:
            attn_mask = _canonical_mask(attn_mask, "attn_mask", fdt)
            if key_padding_mask is not None:
                is_causal = False
        key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", fdt)

        # input projections
        b = self.in_proj_bias
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:
                q, k, v = linear(query, w, b).chunk(3, dim=-1)
            else:
                wq, wk, wv = w.chunk(3)
                bq, bk, bv = b.chunk(3) if b is not None else (None, None, None)
                q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
        else:
            bq, bk, bv = b.chunk(3) if b is not None else (None, None, None)
            q = linear(query, self.q_proj_weight, bq)
            k = linear(key, self.k_proj_weight, bk)
            v = linear(value, self.v_proj_weight, bv)

        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(1, N, E)])
            v = cat([v, self.bias_v.expand(1, N, E)])
            if attn_mask is not None:
                attn_mask = Tensor._make(np.pad(attn_mask._data, [(0, 0)] * (attn_mask.dim() - 1) + [(0, 1)]))
            if key_padding_mask is not None:
                key_padding_mask = Tensor._make(np.pad(key_padding_mask._data, [(0, 0), (0, 1)]))
            S += 1

        # (L, N, E) -> (N, H, L, hd)
        q = q.reshape(L, N, H, hd).permute(1, 2, 0, 3)
        k = k.reshape(S, N, H, hd).permute(1, 2, 0, 3)
        v = v.reshape(S, N, H, hd).permute(1, 2, 0, 3)
        if self.add_zero_attn:
            z = Tensor._make(np.zeros((N, H, 1, hd), fdt))
            k, v = cat([k, z], dim=2), cat([v, z], dim=2)
            if attn_mask is not None:
                attn_mask = Tensor._make(np.pad(attn_mask._data, [(0, 0)] * (attn_mask.dim() - 1) + [(0, 1)]))
            if key_padding_mask is not None:
                key_padding_mask = Tensor._make(np.pad(key_padding_mask._data, [(0, 0), (0, 1)]))
            S += 1

        mask = None
        if attn_mask is not None:
            if attn_mask.dim() == 3:
                if tuple(attn_mask.shape) != (N * H, L, S):
                    raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but "
                                       f"should be {(N * H, L, S)}.")
                mask = attn_mask.reshape(N, H, L, S)
            elif attn_mask.dim() == 2:
                if tuple(attn_mask.shape) != (L, S):
                    raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but "
                                       f"should be {(L, S)}.")
                mask = attn_mask
            else:
                raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
        if key_padding_mask is not None:
            kpm = key_padding_mask.reshape(N, 1, 1, S)
            mask = kpm if mask is None else mask + kpm
        if mask is not None and mask.dtype is not q.dtype:
            mask = mask.to(q.dtype)
        p = self.dropout if self.training else 0.0

        if need_weights:
            scores = matmul(q * (1.0 / math.sqrt(hd)), k.transpose(-2, -1))
            if mask is not None:
                scores = scores + mask
            weights = softmax(scores, -1)
            if p > 0.0:
                weights = F_dropout(weights, p=p)
            out = matmul(weights, v)
            if average_attn_weights:
                weights = weights.mean(dim=1)
            if not is_batched:
                weights = weights.squeeze(0)
        else:
            out = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                               is_causal=bool(is_causal and mask is None))
            weights = None
        out = out.permute(2, 0, 1, 3).reshape(L * N, E)
        out = linear(out, self.out_proj.weight, self.out_proj.bias).reshape(L, N, E)
        if self.batch_first and is_batched:
            out = out.transpose(0, 1)
        if not is_batched:
            out = out.squeeze(1)
        return out, weights


def _get_activation(activation):
    from .._functional import activation as A

    if activation == "relu":
        return A.relu
    if activation == "gelu":
        return A.gelu
    if callable(activation):
        return activation
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class TransformerEncoderLayer(Module):
    """``torch.nn.TransformerEncoderLayer`` (post-norm by default, ``norm_first`` for pre-norm)."""

    __constants__ = ["norm_first"]

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if dtype is not None:
            for m in (self.linear1, self.linear2, self.norm1, self.norm2):
                m.to(dtype)
        self.activation_relu_or_gelu = 1 if activation == "relu" else 2 if activation == "gelu" else 0
        self.activation = _get_activation(activation)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


def _detect_is_causal_mask(mask, is_causal, size):
    make_causal = is_causal is True
    if is_causal is None and mask is not None:
        sz = size if size is not None else mask.shape[-2]
        if tuple(mask.shape[-2:]) == (sz, sz):
            m = mask._data.reshape(-1, sz, sz)
            causal = np.triu(np.ones((sz, sz), bool), 1)
            ref = causal if m.dtype == np.bool_ else np.where(causal, -np.inf, 0.0)
            make_causal = bool((m == ref).all())
    return make_causal


class TransformerEncoder(Module):
    """``torch.nn.TransformerEncoder``: a stack of deep-copied encoder layers."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        first = self.layers[0] if len(self.layers) else None
        batch_first = getattr(getattr(first, "self_attn", None), "batch_first", False)
        seq_len = src.shape[1] if (batch_first and src.dim() == 3) else src.shape[0]
        is_causal = _detect_is_causal_mask(mask, is_causal, seq_len)
        out = src
        for mod in self.layers:
            out = mod(out, src_mask=mask, is_causal=is_causal,
                      src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            out = self.norm(out)
        return out
