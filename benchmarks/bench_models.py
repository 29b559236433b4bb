"""Training steps (forward, backward, AdamW) of small real models, written once as PyTorch programs and run
under each library (the library module is the argument): a nanoGPT-style GPT (2 layers x 64 wide, batch
8 x 64 tokens, "new GELU" with ``pow(x, 3.0)``), char-level MLP / RNN / GRU / Transformer, and the MLP of
the training suite; at 1 thread and at all cores.

    python benchmarks/bench_models.py [--quick]
"""
from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import Case

TITLE = "Training steps of small models (forward + backward + AdamW), 1 thread and all cores"
LIBRARIES = ("torch", "tensorstein")
VOCAB = 65


def gpt(T, n_layer=2, n_embd=64, n_head=4, block=64):
    """nanoGPT's model (attention written out, causal mask by ``masked_fill``; GELU the tanh "new GELU")."""
    nn, F = T.nn, T.nn.functional

    class NewGELU(nn.Module):
        def forward(self, x):
            return 0.5 * x * (1.0 + T.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * T.pow(x, 3.0))))

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.register_buffer("bias", T.tril(T.ones(block, block)).view(1, 1, block, block))

        def forward(self, x):
            B, L, C = x.size()
            q, k, v = self.c_attn(x).split(n_embd, dim=2)
            k = k.view(B, L, n_head, C // n_head).transpose(1, 2)  # (B, H, L, D)
            q = q.view(B, L, n_head, C // n_head).transpose(1, 2)
            v = v.view(B, L, n_head, C // n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :L, :L] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, L, C)
            return self.c_proj(y)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), NewGELU(), nn.Linear(4 * n_embd, n_embd))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(VOCAB, n_embd)
            self.wpe = nn.Embedding(block, n_embd)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, VOCAB, bias=False)

        def forward(self, idx, targets):
            pos = T.arange(0, idx.size(1), dtype=T.long)
            x = self.wte(idx) + self.wpe(pos)
            for b in self.h:
                x = b(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    return GPT()


def char_mlp(T, block=3, n_embd=10, hidden=200):
    """makemore's MLP: embedding, tanh hidden layer, cross-entropy."""
    nn, F = T.nn, T.nn.functional

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(27, n_embd)
            self.l1 = nn.Linear(block * n_embd, hidden)
            self.l2 = nn.Linear(hidden, 27)

        def forward(self, idx, targets):
            h = T.tanh(self.l1(self.emb(idx).view(idx.shape[0], -1)))
            return F.cross_entropy(self.l2(h), targets)

    return MLP()


def char_rnn(T, cell="RNN", n_embd=32, hidden=128):
    """Char-level RNN / GRU language model."""
    nn, F = T.nn, T.nn.functional

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(VOCAB, n_embd)
            self.rnn = getattr(nn, cell)(n_embd, hidden, batch_first=True)
            self.head = nn.Linear(hidden, VOCAB)

        def forward(self, idx, targets):
            out, _ = self.rnn(self.emb(idx))
            return F.cross_entropy(self.head(out).reshape(-1, VOCAB), targets.reshape(-1))

    return CharRNN()


def char_transformer(T, n_embd=64, n_head=4, n_layer=2, block=64):
    """A small causal Transformer from library layers (nn.TransformerEncoderLayer)."""
    nn, F = T.nn, T.nn.functional

    class TinyTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(VOCAB, n_embd)
            self.pos = nn.Embedding(block, n_embd)
            self.layers = nn.ModuleList([nn.TransformerEncoderLayer(n_embd, n_head, 4 * n_embd, dropout=0.0,
                                                                    batch_first=True) for _ in range(n_layer)])
            self.head = nn.Linear(n_embd, VOCAB)
            self.register_buffer("mask", T.triu(T.full((block, block), float("-inf")), diagonal=1))

        def forward(self, idx, targets):
            L = idx.size(1)
            x = self.emb(idx) + self.pos(T.arange(L))
            for layer in self.layers:
                x = layer(x, src_mask=self.mask[:L, :L])
            return F.cross_entropy(self.head(x).reshape(-1, VOCAB), targets.reshape(-1))

    return TinyTransformer()


def mlp(T, width=512, depth=4, classes=10):
    """The training suite's MLP (ReLU, cross-entropy)."""
    nn = T.nn
    layers = []
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.ReLU()]
    net = nn.Sequential(*layers, nn.Linear(width, classes))
    loss = nn.CrossEntropyLoss()

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x, y):
            return loss(self.net(x), y)

    return Wrap()


def _data(T, name, rng):
    import numpy as np

    def ints(hi, shape):
        return T.from_numpy(rng.integers(0, hi, shape).astype(np.int64))

    if name == "char MLP":
        return ints(27, (32, 3)), ints(27, (32,))
    if name == "MLP 4x512":
        return T.from_numpy(rng.standard_normal((256, 512)).astype(np.float32)), ints(10, (256,))
    return ints(VOCAB, (8, 64) if name in ("GPT", "Transformer") else (16, 32)), \
        ints(VOCAB, (8, 64) if name in ("GPT", "Transformer") else (16, 32))


MODELS = {
    "GPT": gpt,
    "char MLP": char_mlp,
    "RNN": lambda T: char_rnn(T, "RNN"),
    "GRU": lambda T: char_rnn(T, "GRU"),
    "Transformer": char_transformer,
    "MLP 4x512": mlp,
}


def cases(lib, quick):
    import numpy as np

    T = __import__(lib)
    all_threads = T.get_num_threads()
    out = []
    for threads in (1, all_threads) if all_threads > 1 else (1,):
        for name, build in MODELS.items():
            out.append(_case(T, name, build, threads, np.random.default_rng(0)))
    return out


def _case(T, name, build, threads, rng):
    T.manual_seed(0)
    model = build(T)
    opt = T.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = _data(T, name, rng)

    def step():
        if T.get_num_threads() != threads:
            T.set_num_threads(threads)
        opt.zero_grad(set_to_none=True)
        model(x, y).backward()
        opt.step()

    return Case(f"{name} step, {threads} thread{'s' if threads > 1 else ''}", step, number=5, warmup=3,
                budget_s=8.0)


if __name__ == "__main__":
    sys.exit(harness.main(["models"] + sys.argv[1:]))
