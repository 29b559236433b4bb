"""A small GPT (decoder-only causal Transformer) with a KV cache for sampling.

Shapes: B batch, T time (sequence), C embedding size, H heads, D = C / H, V vocabulary.

    idx (B, T) -> wte + wpe -> n_layer x [x + attn(ln_1(x)); x + mlp(ln_2(x))] -> ln_f -> lm_head -> logits (B, T, V)

Attention runs through ``tensorstein.nn.attention.scaled_dot_product_attention`` with
``is_causal=True, causal_alignment="bottom_right"``: over the whole sequence that is the usual
causal mask; with a KV cache the new queries are the last rows, so each sees the cached prefix
and the new keys up to itself, and one generation step costs O(T) instead of re-running the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import tensorstein as ts
from tensorstein import nn
from tensorstein.nn import functional as F
from tensorstein.nn.attention import scaled_dot_product_attention

__all__ = ["GPTConfig", "GPT", "CharTokenizer", "KVCache"]


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")


class CharTokenizer:
    """Characters <-> integer ids."""

    def __init__(self, text: str):
        chars = sorted(set(text))
        self.itos = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, s: str) -> list[int]:
        try:
            return [self.stoi[c] for c in s]
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids) -> str:
        return "".join(self.itos[int(i)] for i in ids)


class KVCache:
    """Per-layer keys and values seen so far: each ``(B, H, T, D)``."""

    def __init__(self, n_layer: int):
        self.k = [None] * n_layer
        self.v = [None] * n_layer

    @property
    def length(self) -> int:
        return 0 if self.k[0] is None else self.k[0].shape[2]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)  # q, k, v in one matmul
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x, cache: KVCache | None = None, layer: int = 0):
        B, T, C = x.shape
        H, D = self.n_head, C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
        k = k.view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
        v = v.view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
        if cache is not None:
            if cache.k[layer] is not None:
                k = ts.cat([cache.k[layer], k], dim=2)  # (B, H, past+T, D)
                v = ts.cat([cache.v[layer], v], dim=2)
            cache.k[layer], cache.v[layer] = k, v
        # new query i sits at position past + i and sees keys <= past + i: causal, aligned bottom-right
        y = scaled_dot_product_attention(q, k, v, is_causal=True, causal_alignment="bottom_right",
                                         dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))  # (B, T, C)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = MLP(cfg)

    def forward(self, x, cache=None, layer=0):
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        with ts.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    p.zero_()
                elif p.dim() >= 2:
                    std = 0.02 / (2 * cfg.n_layer) ** 0.5 if name.endswith("c_proj.weight") else 0.02
                    p.normal_(0.0, std)

    def forward(self, idx, targets=None, cache: KVCache | None = None):
        """``idx`` (B, T) -> ``(logits (B, T, V), loss or None)``."""
        B, T = idx.shape
        start = cache.length if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds block_size {self.config.block_size}")
        pos = ts.arange(start, start + T)  # (T,)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        for i, block in enumerate(self.h):
            x = block(x, cache, i)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
        return logits, loss

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 use_cache: bool = True, generator: np.random.Generator | None = None):
        """Sample ``max_new_tokens`` continuations of ``idx`` (B, T); returns (B, T + new).

        ``temperature=0`` picks the most likely token (greedy). With
        ``use_cache`` the prompt is run once and each step feeds only the new
        token; when the context fills the block the cache is rebuilt from the
        last ``block_size`` tokens (so results equal ``use_cache=False``).
        """
        rng = generator if generator is not None else np.random.default_rng()
        idx = ts.as_tensor(idx)
        bs = self.config.block_size
        was_training = self.training
        self.eval()
        try:
            with ts.no_grad():
                cache = None
                seq = idx
                for _ in range(max_new_tokens):
                    if use_cache:
                        if cache is None or cache.length >= bs:
                            cache = KVCache(self.config.n_layer)
                            logits, _ = self(seq[:, -bs:], cache=cache)  # (re)fill the cache with the prompt
                        else:
                            logits, _ = self(seq[:, -1:], cache=cache)
                    else:
                        logits, _ = self(seq[:, -bs:])
                    nxt = _sample(logits[:, -1, :].numpy(), temperature, top_k, rng)  # (B,)
                    seq = ts.cat([seq, ts.from_numpy(nxt[:, None])], dim=1)
        finally:
            self.train(was_training)
        return seq


def _sample(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> np.ndarray:
    if temperature <= 0:
        return logits.argmax(axis=-1).astype(np.int64)
    z = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.sort(z, axis=-1)[:, -top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    p = F.softmax(ts.from_numpy(z), -1).numpy()  # (B, V) float64
    return np.array([rng.choice(p.shape[-1], p=row) for row in p], dtype=np.int64)
