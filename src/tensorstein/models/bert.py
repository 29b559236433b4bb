"""BERT encoder with Hugging Face's parameter names, so checkpoints load as is.

Parameter names match ``transformers.BertModel``'s state dict exactly::

    embeddings.word_embeddings.weight            (V, C)
    embeddings.position_embeddings.weight        (P, C)
    embeddings.token_type_embeddings.weight      (T, C)
    embeddings.LayerNorm.{weight,bias}           (C,)
    encoder.layer.{i}.attention.self.{query,key,value}.{weight,bias}
    encoder.layer.{i}.attention.output.dense.{weight,bias}
    encoder.layer.{i}.attention.output.LayerNorm.{weight,bias}
    encoder.layer.{i}.intermediate.dense.{weight,bias}      (4C, C)
    encoder.layer.{i}.output.dense.{weight,bias}            (C, 4C)
    encoder.layer.{i}.output.LayerNorm.{weight,bias}
    pooler.dense.{weight,bias}                               (optional)

Every layer is library modules: in training (or with autograd on) attention runs through
``F.scaled_dot_product_attention`` with the padding mask; in eval mode under ``no_grad`` each
layer is one call of the library's encoder-layer fast path, ``F._transformer_encoder_layer_fwd``
(torch's ``_transformer_encoder_layer_fwd``), with the query/key/value weights packed once.

Shapes: B batch, L sequence length, C hidden size, H heads, D = C / H.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

import tensorstein as ts
from tensorstein import nn
from tensorstein.nn import functional as F
from tensorstein.nn._functional.transformer import _transformer_encoder_layer_fwd

from ..io._config import load_config
from ..io._safetensors import load_file
from ..io._torch_pickle import load_state_dict as _load_torch_state_dict

__all__ = ["BertConfig", "BertModel", "BaseModelOutput", "load_weights"]


@dataclass
class BertConfig:
    """The fields of a Hugging Face BERT ``config.json`` that the model uses."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads ({self.num_attention_heads})"
            )
        if self.hidden_act not in ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu"):
            raise NotImplementedError(f"hidden_act {self.hidden_act!r} is not supported")
        if self.position_embedding_type != "absolute":
            raise NotImplementedError(f"position_embedding_type {self.position_embedding_type!r} is not supported")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BertConfig":
        names = {f.name for f in fields(cls)}
        mt = d.get("model_type")
        if mt is not None and mt not in ("bert", "roberta", "xlm-roberta", "distilbert_as_bert"):
            raise NotImplementedError(f"model_type {mt!r} is not a BERT model")
        return cls(**{k: v for k, v in d.items() if k in names and v is not None})

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike) -> "BertConfig":
        """Read ``config.json`` from a file or model directory."""
        return cls.from_dict(load_config(path))

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


class BaseModelOutput(tuple):
    """``(last_hidden_state, pooler_output)`` with attribute access like HF's outputs."""

    def __new__(cls, last_hidden_state, pooler_output=None):
        return super().__new__(cls, (last_hidden_state, pooler_output))

    @property
    def last_hidden_state(self):
        return self[0]

    @property
    def pooler_output(self):
        return self[1]


def _act(name: str, x):
    if name == "gelu":
        return F.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return F.gelu(x, approximate="tanh")
    return F.relu(x)


# ----------------------------------------------------------------- modules


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        C = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, C, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, C)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, C)
        self.LayerNorm = nn.LayerNorm(C, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids):
        L = input_ids.shape[1]
        positions = ts.arange(L).unsqueeze(0)  # (1, L)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)  # (B, L, C)
        x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        C = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.query = nn.Linear(C, C)
        self.key = nn.Linear(C, C)
        self.value = nn.Linear(C, C)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, x, padding_mask):
        B, L, C = x.shape
        H, D = self.num_heads, self.head_dim
        q = self.query(x).view(B, L, H, D).transpose(1, 2)  # (B, H, L, D)
        k = self.key(x).view(B, L, H, D).transpose(1, 2)  # (B, H, L, D)
        v = self.value(x).view(B, L, H, D).transpose(1, 2)  # (B, H, L, D)
        keep = (~padding_mask).view(B, 1, 1, L)  # (B, 1, 1, L) bool, True where the key is a real token
        ctx = F.scaled_dot_product_attention(
            q, k, v, attn_mask=keep, dropout_p=self.dropout_p if self.training else 0.0
        )  # (B, H, L, D)
        return ctx.transpose(1, 2).reshape(B, L, C)  # (B, L, C)

    def packed_qkv(self):
        """Query/key/value weights (3C, C) and biases (3C,) stacked for one matmul, cached until a parameter
        changes (in place or replaced)."""
        params = (self.query.weight, self.key.weight, self.value.weight, self.query.bias, self.key.bias,
                  self.value.bias)
        datas = tuple(p._data for p in params)  # held by the cache, so identities stay unique
        versions = tuple(p._version[0] for p in params)
        hit = self.__dict__.get("_qkv_cache")
        if hit is None or hit[1] != versions or not all(a is b for a, b in zip(hit[0], datas)):
            with ts.no_grad():
                w, b = ts.cat([p.detach() for p in params[:3]]), ts.cat([p.detach() for p in params[3:]])
            hit = self.__dict__["_qkv_cache"] = (datas, versions, w, b)
        return hit[2], hit[3]


class BertSelfOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, h, residual):
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, x, padding_mask):
        return self.output(self.self(x, padding_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = config.hidden_act

    def forward(self, x):
        return _act(self.act, self.dense(x))  # (B, L, 4C)


class BertOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, h, residual):
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)
        self.fast_path_ok = config.hidden_act in ("gelu", "relu")

    def forward(self, x, padding_mask):
        """``x`` (B, L, C), ``padding_mask`` (B, L) bool, True at padding -> (B, L, C)."""
        if self.fast_path_ok and not self.training and not ts.is_grad_enabled():
            return self._fast_forward(x, padding_mask)
        a = self.attention(x, padding_mask)  # (B, L, C)
        return self.output(self.intermediate(a), a)

    def _fast_forward(self, x, padding_mask):
        sa, so, ffn_in, ffn_out = self.attention.self, self.attention.output, self.intermediate.dense, self.output
        w_qkv, b_qkv = sa.packed_qkv()
        return _transformer_encoder_layer_fwd(
            x, x.shape[-1], sa.num_heads, w_qkv, b_qkv, so.dense.weight, so.dense.bias,
            self.intermediate.act == "gelu", False, so.LayerNorm.eps, so.LayerNorm.weight, so.LayerNorm.bias,
            ffn_out.LayerNorm.weight, ffn_out.LayerNorm.bias, ffn_in.weight, ffn_in.bias, ffn_out.dense.weight,
            ffn_out.dense.bias, mask=padding_mask, mask_type=1)


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x, padding_mask):
        for layer in self.layer:
            x = layer(x, padding_mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x):
        return ts.tanh(self.dense(x[:, 0]))  # (B, C)


class BertModel(nn.Module):
    """``transformers.BertModel`` re-implemented on tensorstein.

    ``model(input_ids, attention_mask, token_type_ids)`` returns a
    :class:`BaseModelOutput` whose ``last_hidden_state`` is ``(B, L, C)``.
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True, _init_weights: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        if _init_weights:
            self._init_weights()

    def _init_weights(self) -> None:
        std = self.config.initializer_range
        with ts.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("LayerNorm.weight"):
                    p.fill_(1.0)
                elif name.endswith("bias"):
                    p.zero_()
                else:
                    p.normal_(0.0, std)

    # ------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, add_pooling_layer: bool | None = None) -> "BertModel":
        """Build from a Hugging Face model directory (``config.json`` + weights)."""
        from ._st_files import find_weights_file

        config = BertConfig.from_pretrained(path)
        weights = load_weights(find_weights_file(path))
        has_pooler = any(k.startswith("pooler.") or k.startswith("bert.pooler.") for k in weights)
        with _skip_layer_init():  # every parameter is overwritten below: don't fill (or even touch) them
            model = cls(config, add_pooling_layer=has_pooler if add_pooling_layer is None else add_pooling_layer,
                        _init_weights=False)
        model.load_numpy_state_dict(weights, strict=True)
        model.eval()
        return model

    def load_numpy_state_dict(self, weights: dict[str, np.ndarray], strict: bool = True) -> None:
        """Copy NumPy arrays (HF checkpoint names, optional ``bert.`` prefix) into the parameters."""
        params = dict(self.named_parameters())
        if weights and all(k.startswith("bert.") or not k.startswith(("embeddings.", "encoder.", "pooler.")) for k in weights):
            weights = {k[len("bert."):]: v for k, v in weights.items() if k.startswith("bert.")}
        missing = [k for k in params if k not in weights]
        ignorable = ("embeddings.position_ids",)
        unexpected = [
            k for k in weights
            if k not in params and k not in ignorable and not (self.pooler is None and k.startswith("pooler."))
        ]
        if strict and (missing or unexpected):
            raise KeyError(
                f"checkpoint does not match BertModel: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
            )
        for name, p in params.items():
            if name not in weights:
                continue
            arr = weights[name]
            if tuple(arr.shape) != tuple(p.shape):
                raise ValueError(f"{name}: checkpoint shape {tuple(arr.shape)} != model shape {tuple(p.shape)}")
            arr = np.asarray(arr, dtype=np.float32, order="C")
            if not arr.flags.writeable:
                arr = arr.copy()  # e.g. a read-only memory map: parameters need their own memory
            p.data = ts.from_numpy(arr)

    # ------------------------------------------------------------- forward
    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> BaseModelOutput:
        input_ids = ts.as_tensor(input_ids)
        B, L = input_ids.shape
        if L > self.config.max_position_embeddings:
            raise ValueError(f"sequence length {L} exceeds max_position_embeddings {self.config.max_position_embeddings}")
        if attention_mask is None:
            attention_mask = ts.ones((B, L), dtype=ts.int64)
        if token_type_ids is None:
            token_type_ids = ts.zeros((B, L), dtype=ts.int64)
        attention_mask = ts.as_tensor(attention_mask)
        token_type_ids = ts.as_tensor(token_type_ids)
        x = self.embeddings(input_ids, token_type_ids)  # (B, L, C)
        x = self.encoder(x, attention_mask == 0)  # (B, L, C)
        pooled = self.pooler(x) if self.pooler is not None else None
        return BaseModelOutput(x, pooled)


_INIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _skip_layer_init():
    """Build layers without running their ``reset_parameters`` (like torch's ``skip_init``).

    Parameters keep the untouched memory of ``empty``, so a model that is
    about to receive checkpoint weights never pays for random initialisation
    (time and peak memory).
    """
    classes = [c for c in (nn.Linear, nn.Embedding, nn.LayerNorm) if "reset_parameters" in vars(c)]
    with _INIT_LOCK:
        saved = {c: vars(c)["reset_parameters"] for c in classes}
        try:
            for c in classes:
                c.reset_parameters = lambda self: None
            yield
        finally:
            for c, f in saved.items():
                c.reset_parameters = f


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a ``.safetensors`` or torch ``.bin``/``.pt`` weights file into NumPy arrays."""
    p = os.fspath(path)
    if p.endswith(".safetensors"):
        return load_file(p, mmap=False)  # owned arrays: float32 ones are adopted without another copy
    return _load_torch_state_dict(p)
