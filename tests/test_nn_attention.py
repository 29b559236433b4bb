"""scaled_dot_product_attention on tensors vs torch (oracle only)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tensorstein as ts  # noqa: E402
from tensorstein.nn.attention import (  # noqa: E402
    SDPBackend,
    scaled_dot_product_attention as sdpa,
    sdpa_kernel,
    select_path,
)

TF = torch.nn.functional
BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.MATH]
TOL = dict(rtol=1e-4, atol=1e-5)


def pair(rng, shape, dt=np.float32, grad=True):
    a = rng.standard_normal(shape).astype(dt)
    return ts.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def run_both(shapes, backend, mask=None, dt=np.float32, seed=0, **kw):
    rng = np.random.default_rng(seed)
    (q, tq), (k, tk), (v, tv) = (pair(rng, s, dt) for s in shapes)
    m = tm = None
    if mask is not None:
        m, tm = ts.tensor(mask), torch.tensor(mask)
    with sdpa_kernel(backend):
        o = sdpa(q, k, v, attn_mask=m, **kw)
    to = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, **kw)
    g = rng.standard_normal(tuple(to.shape)).astype(dt)
    o.backward(ts.tensor(g))
    to.backward(torch.tensor(g))
    assert tuple(o.shape) == tuple(to.shape) and o.dtype.name == str(to.dtype)[6:]
    np.testing.assert_allclose(o.detach().numpy(), np.nan_to_num(to.detach().numpy()), **TOL)
    for a, b in ((q, tq), (k, tk), (v, tv)):
        assert tuple(a.grad.shape) == tuple(b.grad.shape)
        np.testing.assert_allclose(a.grad.numpy(), np.nan_to_num(b.grad.numpy()), **TOL)
    return o


SHAPES = [
    ((2, 4, 33, 16), (2, 4, 40, 16), (2, 4, 40, 8)),
    ((3, 33, 16), (3, 40, 16), (3, 40, 8)),
    ((33, 16), (40, 16), (40, 8)),
    ((2, 3, 1, 33, 16), (2, 3, 1, 40, 16), (2, 3, 1, 40, 8)),
    ((2, 4, 33, 16), (2, 1, 40, 16), (2, 1, 40, 8)),  # broadcast kv head
    ((2, 4, 33, 16), (1, 4, 40, 16), (1, 4, 40, 8)),  # broadcast batch
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("is_causal", [False, True])
def test_matches_torch(backend, shapes, is_causal):
    run_both(shapes, backend, is_causal=is_causal)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gqa_and_scale(backend):
    shapes = ((2, 6, 20, 8), (2, 2, 30, 8), (2, 2, 30, 4))
    run_both(shapes, backend, enable_gqa=True)
    run_both(shapes, backend, enable_gqa=True, is_causal=True, scale=0.3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mshape", [(20, 30), (2, 1, 20, 30), (1, 3, 1, 30)])
def test_masks(backend, mshape):
    rng = np.random.default_rng(1)
    shapes = ((2, 3, 20, 8), (2, 3, 30, 8), (2, 3, 30, 8))
    run_both(shapes, backend, mask=rng.random(mshape) > 0.4)
    run_both(shapes, backend, mask=rng.standard_normal(mshape).astype(np.float32))


@pytest.mark.parametrize("LS", [(20, 20), (20, 30), (30, 20)])
def test_causal_masks_run_as_is_causal(LS, monkeypatch):
    """A mask that is exactly the top-left causal pattern (additive triu(-inf, 1), or a boolean lower triangle,
    with leading dims of 1) runs as is_causal on the flash path (no masked half computed), with torch's values
    and gradients; any other mask, or one that needs a gradient, stays a mask."""
    import tensorstein.nn._attention as A

    L, S = LS
    seen = []
    real = A.attention_forward
    monkeypatch.setattr(A, "attention_forward", lambda *a, **k: seen.append((k["causal"], k["mask"])) or real(*a, **k))
    shapes = ((2, 3, L, 8), (2, 3, S, 8), (2, 3, S, 8))
    below = np.tri(L, S, dtype=bool)
    additive = np.where(below, 0, -np.inf).astype(np.float32)
    for mask in (additive, additive[None, None], below):
        seen.clear()
        run_both(shapes, SDPBackend.FLASH_ATTENTION, mask=mask)
        assert seen == [("top_left", None)]
    almost = additive.copy()
    almost[-1, 0] = -np.inf
    for mask in (almost, np.where(below, 0, -1e9).astype(np.float32)):
        seen.clear()
        run_both(shapes, SDPBackend.FLASH_ATTENTION, mask=mask)
        assert seen[0][0] is None and seen[0][1] is not None


@pytest.mark.parametrize("backend", BACKENDS)
def test_fully_masked_rows_give_zeros(backend):
    m = np.ones((20, 30), bool)
    m[4] = False
    o = run_both(((1, 2, 20, 8), (1, 2, 30, 8), (1, 2, 30, 8)), backend, mask=m)
    assert np.all(o.detach().numpy()[:, :, 4] == 0)


def test_float_mask_with_grad_uses_math():
    rng = np.random.default_rng(2)
    (q, tq), (k, tk), (v, tv) = (pair(rng, (1, 2, 5, 4)) for _ in range(3))
    m, tm = pair(rng, (5, 5))
    assert select_path(q, k, v, m) == "math"
    o = sdpa(q, k, v, attn_mask=m)
    to = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
    o.sum().backward()
    to.sum().backward()
    np.testing.assert_allclose(m.grad.numpy(), tm.grad.numpy(), **TOL)
    np.testing.assert_allclose(q.grad.numpy(), tq.grad.numpy(), **TOL)


def test_path_selection_and_backends():
    q = ts.randn(1, 2, 8, 4)
    assert select_path(q, q, q) == "flash"
    assert select_path(q, q, q, dropout_p=0.1) == "math"
    assert select_path(q, q, q, score_mod=lambda s, *a: s) == "flex"
    with sdpa_kernel(SDPBackend.MATH):
        assert select_path(q, q, q) == "math"
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        with pytest.raises(RuntimeError, match="No available kernel"):
            sdpa(q, q, q, dropout_p=0.5)
    assert select_path(q, q, q) == "flash"


@pytest.mark.parametrize("kind", ["bool", "float", "bool2d"])
@pytest.mark.parametrize("LS", [(33, 40), (40, 33), (33, 33)])
def test_mask_and_causal_combine(kind, LS):
    """torch 2.13 (fused CPU kernel): attn_mask with is_causal=True means the mask AND the top-left causal
    pattern; forcing the MATH backend raises torch's error."""
    L, S = LS
    rng = np.random.default_rng(3)
    mask = {"bool": lambda: rng.random((2, 1, L, S)) > 0.3, "bool2d": lambda: rng.random((L, S)) > 0.3,
            "float": lambda: rng.standard_normal((2, 1, L, S)).astype(np.float32)}[kind]()
    if kind == "bool":
        mask[0, 0, 1] = False  # a row with every key masked: zeros
    run_both(((2, 4, L, 16), (2, 4, S, 16), (2, 4, S, 16)), SDPBackend.FLASH_ATTENTION, mask=mask, is_causal=True)
    q = ts.randn(2, 4, L, 16)
    with sdpa_kernel(SDPBackend.MATH), pytest.raises(RuntimeError, match="should not be set when is_causal=True"):
        sdpa(q, q[:, :, :1].expand(2, 4, S, 16), q[:, :, :1].expand(2, 4, S, 16), attn_mask=ts.tensor(mask),
             is_causal=True)
    tq = torch.randn(2, 4, L, 16)
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH), \
            pytest.raises(RuntimeError, match="should not be set when is_causal=True"):
        TF.scaled_dot_product_attention(tq, tq, tq, attn_mask=torch.ones(L, L, dtype=torch.bool), is_causal=True)


def test_errors_match_torch():
    q = ts.randn(1, 2, 4, 8)
    with pytest.raises(RuntimeError) as e:
        sdpa(q, q.double(), q)
    assert str(e.value) == ("Expected query, key, and value to have the same dtype, but got "
                            "query.dtype: float key.dtype: double and value.dtype: float instead.")
    with pytest.raises(RuntimeError, match="at least 2 dimensional"):
        sdpa(q[0, 0, 0], q, q)
    with pytest.raises(RuntimeError, match="attn_mask dtype to be bool or float"):
        sdpa(q, q, q, attn_mask=ts.ones(4, 4, dtype=ts.int64))
    with pytest.raises(RuntimeError, match="Number of heads in key and value must divide"):
        sdpa(ts.randn(1, 3, 4, 8), q, q, enable_gqa=True)
    with pytest.raises(RuntimeError):
        sdpa(q, ts.randn(1, 2, 4, 6), q)


def test_dropout():
    ts.manual_seed(0)
    q = ts.randn(1, 2, 64, 8)
    v = ts.ones(1, 2, 64, 8)
    o = sdpa(q, q, v, dropout_p=0.5)
    # each output is (sum of kept weights) / (1 - p): mean ~1, not all equal to 1
    x = o.numpy()
    assert abs(x.mean() - 1) < 0.1 and x.std() > 0.05
    assert np.all(sdpa(q, q, v, dropout_p=1.0).numpy() == 0)
    np.testing.assert_allclose(sdpa(q, q, v, dropout_p=0.0).numpy(), 1, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("align", ["top_left", "bottom_right"])
@pytest.mark.parametrize("window", [None, (4, 2), (6, None)])
def test_alignment_and_window(backend, align, window):
    rng = np.random.default_rng(3)
    L, S = 20, 30
    (q, tq), (k, tk), (v, tv) = (pair(rng, (1, 2, n, 8)) for n in (L, S, S))
    off = 0 if align == "top_left" else S - L
    d = np.arange(S)[None] - np.arange(L)[:, None] - off
    allow = d <= 0
    if window is not None:
        allow &= d >= -window[0]
        if window[1] is not None:
            allow &= d <= min(window[1], 0)
    with sdpa_kernel(backend):
        o = sdpa(q, k, v, is_causal=True, causal_alignment=align, window=window)
    to = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(allow))
    np.testing.assert_allclose(o.detach().numpy(), np.nan_to_num(to.detach().numpy()), **TOL)
    g = rng.standard_normal((1, 2, L, 8)).astype(np.float32)
    o.backward(ts.tensor(g))
    to.backward(torch.tensor(g))
    for a, b in ((q, tq), (k, tk), (v, tv)):
        np.testing.assert_allclose(a.grad.numpy(), np.nan_to_num(b.grad.numpy()), **TOL)
    if window is not None:  # window without causal: both sides
        o2 = sdpa(q, k, v, causal_alignment=align, window=(3, 3))
        allow2 = (d >= -3) & (d <= 3)
        to2 = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(allow2))
        np.testing.assert_allclose(o2.detach().numpy(), np.nan_to_num(to2.detach().numpy()),
                                   **TOL)


def test_score_mod_with_learnable_bias_and_mask_mod():
    rng = np.random.default_rng(4)
    L = 24
    (q, tq), (k, tk), (v, tv) = (pair(rng, (2, 3, L, 8), np.float64) for _ in range(3))
    slopes = ts.tensor([0.5, 0.25, 0.1], dtype=ts.float64, requires_grad=True)
    tslopes = torch.tensor([0.5, 0.25, 0.1], dtype=torch.float64, requires_grad=True)

    def alibi(score, b, h, q_idx, kv_idx):
        return score - slopes[h] * (q_idx - kv_idx).abs().to(score.dtype)

    def sliding(b, h, q_idx, kv_idx):
        return (q_idx - kv_idx).abs() <= 5

    o = sdpa(q, k, v, score_mod=alibi, mask_mod=sliding, is_causal=True)
    qi, ki = torch.arange(L)[:, None], torch.arange(L)[None]
    bias = -tslopes[None, :, None, None] * (qi - ki).abs()
    keep = ((qi - ki).abs() <= 5) & (ki <= qi)
    bias = bias.masked_fill(~keep, float("-inf"))
    to = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=bias)
    np.testing.assert_allclose(o.detach().numpy(), to.detach().numpy(), rtol=1e-9, atol=1e-11)
    g = rng.standard_normal((2, 3, L, 8))
    o.backward(ts.tensor(g))
    to.backward(torch.tensor(g))
    for a, b in ((q, tq), (k, tk), (v, tv), (slopes, tslopes)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_return_lse():
    rng = np.random.default_rng(5)
    (q, tq), (k, tk), (v, tv) = (pair(rng, (1, 2, 10, 8), grad=False) for _ in range(3))
    o, lse = sdpa(q, k, v, is_causal=True, return_lse=True)
    s = (tq @ tk.transpose(-1, -2)) / np.sqrt(8)
    s = s.masked_fill(~torch.ones(10, 10, dtype=torch.bool).tril(), float("-inf"))
    np.testing.assert_allclose(lse.numpy(), torch.logsumexp(s, -1).numpy(), **TOL)
    o2, lse2 = sdpa(q, k, v, score_mod=lambda s, *a: s, is_causal=True, return_lse=True)
    np.testing.assert_allclose(lse2.numpy(), lse.numpy(), **TOL)
    np.testing.assert_allclose(o2.numpy(), o.numpy(), **TOL)


def test_low_precision_and_double_backward():
    q = ts.randn(1, 2, 6, 4).to(ts.bfloat16)
    o = sdpa(q, q, q)
    assert o.dtype is ts.bfloat16
    x = ts.randn(1, 1, 5, 4, dtype=ts.float64, requires_grad=True)
    out = sdpa(x, x, x)
    (g,) = ts.autograd.grad(out.sum(), x)
    assert g.shape == x.shape
    with pytest.raises(RuntimeError, match="not implemented"):
        ts.autograd.grad(sdpa(x, x, x).sum(), x, create_graph=True)


def test_math_double_backward():
    x = ts.randn(1, 1, 5, 4, dtype=ts.float64, requires_grad=True)
    with sdpa_kernel(SDPBackend.MATH):
        (g2,) = ts.autograd.grad((sdpa(x, x, x) ** 2).sum(), x, create_graph=True)
        g2.sum().backward()
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        (tg2,) = torch.autograd.grad((TF.scaled_dot_product_attention(tx, tx, tx) ** 2).sum(),
                                     tx, create_graph=True)
    tg2.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_long_sequence_flash():
    rng = np.random.default_rng(6)
    (q, tq), (k, tk), (v, tv) = (pair(rng, (1, 2, 700, 32)) for _ in range(3))
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        o = sdpa(q, k, v, is_causal=True)
    to = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    np.testing.assert_allclose(o.detach().numpy(), to.detach().numpy(), **TOL)


# ----------------------------------------------------------------- modules
def _modules():
    import tensorstein.nn as nn

    if not all(hasattr(nn, c) for c in ("Linear", "LayerNorm", "Dropout")):
        pytest.skip("nn.Linear/LayerNorm/Dropout not available yet")
    from tensorstein.nn.modules import transformer as M

    return M


def _load(mod, tmod):
    res = mod.load_state_dict({k: ts.tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()})
    assert not res.missing_keys and not res.unexpected_keys
    assert sorted(n for n, _ in mod.named_parameters()) == sorted(n for n, _ in tmod.named_parameters())


@pytest.mark.parametrize("kw", [dict(), dict(batch_first=True), dict(kdim=6, vdim=5),
                                dict(add_bias_kv=True, add_zero_attn=True), dict(bias=False)])
@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention(kw, need_weights):
    M = _modules()
    tm = torch.nn.MultiheadAttention(16, 4, **kw)
    m = M.MultiheadAttention(16, 4, **kw)
    _load(m, tm)
    rng = np.random.default_rng(0)
    N, L, S = 2, 7, 9
    bf = kw.get("batch_first", False)

    def shp(n, d):
        return (N, n, d) if bf else (n, N, d)

    q, k, v = (rng.standard_normal(s).astype(np.float32)
               for s in (shp(L, 16), shp(S, kw.get("kdim", 16)), shp(S, kw.get("vdim", 16))))
    kpm = np.zeros((N, S), bool)
    kpm[0, -2:] = True
    am = rng.random((L, S)) > 0.8
    args = [(ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)) for x in (q, k, v)]
    o, w = m(*(a for a, _ in args), key_padding_mask=ts.tensor(kpm), attn_mask=ts.tensor(am),
             need_weights=need_weights)
    to, tw = tm(*(b for _, b in args), key_padding_mask=torch.tensor(kpm),
                attn_mask=torch.tensor(am), need_weights=need_weights)
    np.testing.assert_allclose(o.detach().numpy(), to.detach().numpy(), **TOL)
    if need_weights:
        np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), **TOL)
    else:
        assert w is None and tw is None
    o.sum().backward()
    to.sum().backward()
    for a, b in args:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.out_proj.weight.grad.numpy(), tm.out_proj.weight.grad.numpy(),
                               rtol=1e-4, atol=1e-4)


def test_mha_unbatched_and_causal_hint():
    M = _modules()
    tm = torch.nn.MultiheadAttention(8, 2)
    m = M.MultiheadAttention(8, 2)
    _load(m, tm)
    x = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
    o, _ = m(ts.tensor(x), ts.tensor(x), ts.tensor(x), attn_mask=ts.tensor(mask.numpy()),
             is_causal=True, need_weights=False)
    to, _ = tm(torch.tensor(x), torch.tensor(x), torch.tensor(x), attn_mask=mask, is_causal=True,
               need_weights=False)
    np.testing.assert_allclose(o.detach().numpy(), to.detach().numpy(), **TOL)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(ts.tensor(x), ts.tensor(x), ts.tensor(x), is_causal=True)


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, batch_first=True, activation="gelu")])
def test_transformer_encoder(kw):
    M = _modules()
    tl = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, **kw)
    tenc = torch.nn.TransformerEncoder(tl, 2, enable_nested_tensor=False).eval()
    enc = M.TransformerEncoder(M.TransformerEncoderLayer(16, 4, 32, dropout=0.0, **kw), 2).eval()
    _load(enc, tenc)
    shape = (3, 5, 16) if kw.get("batch_first") else (5, 3, 16)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
    np.testing.assert_allclose(enc(ts.tensor(x)).detach().numpy(),
                               tenc(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
    o = enc(ts.tensor(x), mask=ts.tensor(mask.numpy()))
    to = tenc(torch.tensor(x), mask=mask)
    np.testing.assert_allclose(o.detach().numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-5)
    enc.train()
    xt = ts.tensor(x, requires_grad=True)
    enc(xt).sum().backward()
    assert xt.grad.shape == xt.shape
    assert all(p.grad is not None for p in enc.parameters())


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu")])
@pytest.mark.parametrize("mask", [None, "kpm", "causal_bool", "float"])
def test_transformer_encoder_fast_path(kw, mask):
    """eval + no_grad with batch_first: each layer is one F._transformer_encoder_layer_fwd call."""
    M = _modules()
    from tensorstein.nn._functional import transformer as FT

    tl = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, **kw)
    tenc = torch.nn.TransformerEncoder(tl, 2, enable_nested_tensor=False).eval()
    enc = M.TransformerEncoder(M.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, **kw), 2).eval()
    _load(enc, tenc)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 16)).astype(np.float32)
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True
    args = {None: {}, "kpm": {"src_key_padding_mask": kpm},
            "causal_bool": {"mask": np.triu(np.ones((5, 5), bool), 1)},
            "float": {"mask": rng.standard_normal((5, 5)).astype(np.float32)}}[mask]
    calls = []
    real = FT._transformer_encoder_layer_fwd
    FT._transformer_encoder_layer_fwd = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        with ts.no_grad():
            o = enc(ts.tensor(x), **{k: ts.tensor(v) for k, v in args.items()})
    finally:
        FT._transformer_encoder_layer_fwd = real
    # torch's slow path is the reference (its own fast path turns a float src_mask into NaN)
    to = tenc(torch.tensor(x), **{k: torch.tensor(v) for k, v in args.items()}).detach()
    assert len(calls) == 2
    np.testing.assert_allclose(o.numpy(), to.numpy(), rtol=1e-4, atol=1e-5)
