"""F.multi_head_attention_forward vs torch's (values, weights, masks, gradients, errors)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tensorstein as ts  # noqa: E402
from tensorstein.nn import functional as F  # noqa: E402

TF = torch.nn.functional
TOL = dict(rtol=1e-4, atol=1e-5)
E, H = 8, 2


def _params(rng, separate=False, bias=True, bias_kv=False, kdim=E, vdim=E):
    p = {
        "in_proj_weight": None if separate else rng.standard_normal((3 * E, E)) * 0.4,
        "in_proj_bias": rng.standard_normal(3 * E) * 0.1 if bias else None,
        "bias_k": rng.standard_normal((1, 1, E)) if bias_kv else None,
        "bias_v": rng.standard_normal((1, 1, E)) if bias_kv else None,
        "out_proj_weight": rng.standard_normal((E, E)) * 0.4,
        "out_proj_bias": rng.standard_normal(E) * 0.1 if bias else None,
    }
    if separate:
        p.update(q_proj_weight=rng.standard_normal((E, E)) * 0.4, k_proj_weight=rng.standard_normal((E, kdim)) * 0.4,
                 v_proj_weight=rng.standard_normal((E, vdim)) * 0.4)
    ours = {k: None if v is None else ts.tensor(v.astype(np.float32), requires_grad=True) for k, v in p.items()}
    theirs = {k: None if v is None else torch.tensor(v.astype(np.float32), requires_grad=True) for k, v in p.items()}
    return ours, theirs


def _call(fn, tensor, q, k, v, params, masks, self_attn=False, **kw):
    q_, k_, v_ = (tensor(x) for x in (q, k, v))
    if self_attn:
        k_ = v_ = q_
    m = {name: None if x is None else tensor(x) for name, x in masks.items()}
    out, w = fn(q_, k_, v_, E, H, params["in_proj_weight"], params["in_proj_bias"], params["bias_k"],
                params["bias_v"], kw.pop("add_zero_attn", False), 0.0, params["out_proj_weight"],
                params["out_proj_bias"], q_proj_weight=params.get("q_proj_weight"),
                k_proj_weight=params.get("k_proj_weight"), v_proj_weight=params.get("v_proj_weight"),
                key_padding_mask=m["key_padding_mask"], attn_mask=m["attn_mask"], **kw)
    return q_, k_, v_, out, w


def _compare(seed=0, L=5, S=6, N=3, batched=True, kdim=E, vdim=E, separate=False, bias=True, bias_kv=False,
             masks=None, self_attn=False, **kw):
    rng = np.random.default_rng(seed)
    if self_attn:
        S, kdim, vdim = L, E, E
    lead = (N,) if batched else ()
    q = rng.standard_normal((L, *lead, E)).astype(np.float32)
    k = rng.standard_normal((S, *lead, kdim)).astype(np.float32)
    v = rng.standard_normal((S, *lead, vdim)).astype(np.float32)
    ours, theirs = _params(rng, separate, bias, bias_kv, kdim, vdim)
    masks = masks or {}
    masks = {"key_padding_mask": masks.get("key_padding_mask"), "attn_mask": masks.get("attn_mask")}
    kw["use_separate_proj_weight"] = separate
    a = _call(F.multi_head_attention_forward, lambda x: ts.tensor(x, requires_grad=x.dtype == np.float32),
              q, k, v, ours, masks, self_attn, **dict(kw))
    b = _call(TF.multi_head_attention_forward, lambda x: torch.tensor(x, requires_grad=x.dtype == np.float32),
              q, k, v, theirs, masks, self_attn, **dict(kw))
    (qa, ka, va, oa, wa), (qb, kb, vb, ob, wb) = a, b
    assert tuple(oa.shape) == tuple(ob.shape)
    np.testing.assert_allclose(oa.detach().numpy(), ob.detach().numpy(), **TOL)
    assert (wa is None) == (wb is None)
    if wb is not None:
        assert tuple(wa.shape) == tuple(wb.shape)
        np.testing.assert_allclose(wa.detach().numpy(), wb.detach().numpy(), **TOL)
    g = rng.standard_normal(tuple(ob.shape)).astype(np.float32)
    loss_a, loss_b = (oa * ts.tensor(g)).sum(), (ob * torch.tensor(g)).sum()
    if wb is not None:
        gw = rng.standard_normal(tuple(wb.shape)).astype(np.float32)
        loss_a, loss_b = loss_a + (wa * ts.tensor(gw)).sum(), loss_b + (wb * torch.tensor(gw)).sum()
    loss_a.backward()
    loss_b.backward()
    pairs = [(qa, qb)] + ([] if self_attn else [(ka, kb), (va, vb)])
    pairs += [(ours[n], theirs[n]) for n in ours if ours[n] is not None]
    for x, y in pairs:
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("self_attn", [True, False])
def test_values_weights_and_grads(need_weights, average, self_attn):
    _compare(need_weights=need_weights, average_attn_weights=average, self_attn=self_attn)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("kind", ["bool2d", "float2d", "float3d", "kpm", "both"])
def test_masks(kind, need_weights):
    rng = np.random.default_rng(5)
    L, S, N = 5, 6, 3
    kpm = np.zeros((N, S), bool)
    kpm[0, -2:] = True
    kpm[2, 0] = True
    masks = {
        "bool2d": {"attn_mask": rng.random((L, S)) > 0.7},
        "float2d": {"attn_mask": rng.standard_normal((L, S)).astype(np.float32)},
        "float3d": {"attn_mask": rng.standard_normal((N * H, L, S)).astype(np.float32)},
        "kpm": {"key_padding_mask": kpm},
        "both": {"key_padding_mask": kpm, "attn_mask": rng.standard_normal((L, S)).astype(np.float32)},
    }[kind]
    _compare(L=L, S=S, N=N, masks=masks, need_weights=need_weights)


@pytest.mark.parametrize("need_weights", [True, False])
def test_separate_weights_bias_kv_zero_attn_unbatched(need_weights):
    _compare(separate=True, kdim=6, vdim=5, need_weights=need_weights)
    _compare(bias_kv=True, add_zero_attn=True, need_weights=need_weights,
             masks={"attn_mask": np.random.default_rng(1).random((5, 6)) > 0.7})
    _compare(batched=False, bias=False, need_weights=need_weights,
             masks={"key_padding_mask": np.array([False, False, True, False, False, False])})


def test_causal_hint_and_eval_dropout():
    causal = np.triu(np.full((5, 5), -np.inf, np.float32), 1)
    _compare(self_attn=True, masks={"attn_mask": causal}, is_causal=True, need_weights=False)
    _compare(self_attn=True, masks={"attn_mask": causal}, is_causal=True, need_weights=True)
    _compare(self_attn=True, training=False, need_weights=False)


def test_errors():
    rng = np.random.default_rng(0)
    ours, _ = _params(rng)
    x = ts.randn(5, 3, E)
    args = (E, H, ours["in_proj_weight"], ours["in_proj_bias"], None, None, False, 0.0, ours["out_proj_weight"],
            ours["out_proj_bias"])
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        F.multi_head_attention_forward(x, x, x, *args, is_causal=True)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is .*Size\(\[4, 5\]\), but should be \(5, 5\)"):
        F.multi_head_attention_forward(x, x, x, *args, attn_mask=ts.zeros(4, 5))
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8, but got 4"):
        F.multi_head_attention_forward(ts.randn(5, 3, 4), ts.randn(5, 3, 4), ts.randn(5, 3, 4), *args)
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D tensor"):
        F.multi_head_attention_forward(ts.randn(5), x, x, *args)
    with pytest.raises(AssertionError, match="only bool and floating types of key_padding_mask"):
        F.multi_head_attention_forward(x, x, x, *args, key_padding_mask=ts.zeros(3, 5, dtype=ts.int64))
    with pytest.raises(AssertionError, match="Expected key_padded_mask.shape.1. to be 5, but got 4"):
        F.multi_head_attention_forward(x, x, x, *args, key_padding_mask=ts.zeros(3, 4, dtype=ts.bool))
    with pytest.raises(AssertionError, match="expected `attn_mask` to be `None`, 2-D or 3-D but found 4-D"):
        F.multi_head_attention_forward(x, x, x, *args, attn_mask=ts.zeros(2, 2, 5, 5))
