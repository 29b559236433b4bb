"""Kernels behind the small-model training steps (embedding backward, batched matmul split over threads, small
attention split over threads, AdamW over all parameters at once) against their composites and torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tensorstein as ts
import tensorstein.nn.functional as F
from tensorstein.nn._functional._sparse_kernels import scatter_add_rows

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_scatter_add_rows_matches_add_at(dt):
    idx = RNG.integers(0, 7, 500)
    gd = RNG.standard_normal((500, 33)).astype(dt)
    want = np.zeros((7, 33), dt)
    np.add.at(want, idx, gd)
    got = np.zeros((7, 33), dt)
    scatter_add_rows(got, idx.astype(np.int32), gd)
    np.testing.assert_array_equal(got, want)  # same order of additions: bit for bit


@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_backward_many_repeats_vs_torch(padding_idx):
    idx = RNG.integers(0, 11, (8, 64))
    w = RNG.standard_normal((11, 16)).astype(np.float32)
    g = RNG.standard_normal((8, 64, 16)).astype(np.float32)
    a, b = ts.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    F.embedding(ts.tensor(idx), a, padding_idx=padding_idx).backward(ts.tensor(g))
    TF.embedding(torch.tensor(idx), b, padding_idx=padding_idx).backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-5)
    want = np.zeros_like(w)
    np.add.at(want, idx.reshape(-1), g.reshape(-1, 16))
    if padding_idx is not None:
        want[padding_idx] = 0
    np.testing.assert_array_equal(a.grad.numpy(), want)


# ------------------------------------------------------------------ small attention (whole heads per call)
from tensorstein._kernels.attention_math import attention_math, attention_math_backward  # noqa: E402
from tensorstein._kernels.attention_small import small_backward, small_forward  # noqa: E402


def _attn_inputs(B, H, Hkv, L, S, E, Ev, dt):
    return (RNG.standard_normal((B, H, L, E)).astype(dt), RNG.standard_normal((B, Hkv, S, E)).astype(dt),
            RNG.standard_normal((B, Hkv, S, Ev)).astype(dt), RNG.standard_normal((B, H, L, Ev)).astype(dt))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["plain", "causal", "bottom_right", "window", "float_mask", "bool_mask", "gqa"])
@pytest.mark.parametrize("threads", [1, 2])
def test_small_attention_matches_math(dt, case, threads):
    B, H, Hkv, L, S, E, Ev = 3, 4, (2 if case == "gqa" else 4), 40, 56, 16, 24
    q, k, v, do = _attn_inputs(B, H, Hkv, L, S, E, Ev, dt)
    opts = {}
    if case == "causal":
        opts["causal"] = "top_left"
    elif case == "bottom_right":
        opts["causal"] = "bottom_right"
    elif case == "window":
        opts["window"] = (5, 3)
    elif case == "float_mask":
        opts["mask"] = np.where(RNG.random((1, H, L, S)) < 0.3, -np.inf, RNG.standard_normal((1, H, L, S))).astype(dt)
    elif case == "bool_mask":
        opts["mask"] = RNG.random((B, 1, L, S)) < 0.7
        opts["mask"][:, :, 3] = False  # a fully masked row: zeros, lse -inf
    out, lse = small_forward(q, k, v, threads=threads, **opts)
    want_out, want_lse = attention_math(q, k, v, **opts)
    tol = 2e-5 if dt == np.float32 else 1e-12
    np.testing.assert_allclose(out, want_out, rtol=tol, atol=tol)
    np.testing.assert_allclose(lse, want_lse, rtol=tol, atol=tol)
    got = small_backward(q, k, v, out, lse, do, threads=threads, **opts)
    want = attention_math_backward(q, k, v, want_out, want_lse, do, **opts)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == dt
        np.testing.assert_allclose(a, b, rtol=5 * tol, atol=5 * tol)


def test_small_attention_split_over_threads_is_the_serial_result(monkeypatch):
    from tensorstein._kernels import attention_small as AS
    q, k, v, do = _attn_inputs(8, 4, 4, 64, 64, 16, 16, np.float32)
    mask = np.triu(np.full((64, 64), -np.inf, np.float32), 1)
    one = small_forward(q, k, v, mask=mask, threads=1)
    monkeypatch.setattr(AS, "_SPLIT_MIN_WORK", 0)
    two = small_forward(q, k, v, mask=mask, threads=2)
    assert len(AS._plan(AS.prepare(q, k, v), 2)) == 4
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(small_backward(q, k, v, *one, do, mask=mask, threads=1),
                    small_backward(q, k, v, *one, do, mask=mask, threads=2)):
        np.testing.assert_array_equal(a, b)


def test_sdpa_small_float_mask_vs_torch():
    """The Transformer benchmark's attention: (8, 4, 64, 16) with an additive causal float mask."""
    q, k, v, do = _attn_inputs(8, 4, 4, 64, 64, 16, 16, np.float32)
    mask = np.triu(np.full((64, 64), -np.inf, np.float32), 1)
    a = [ts.tensor(x, requires_grad=True) for x in (q, k, v)]
    b = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    ya = F.scaled_dot_product_attention(*a, attn_mask=ts.tensor(mask))
    yb = TF.scaled_dot_product_attention(*b, attn_mask=torch.tensor(mask))
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-5, atol=1e-5)
    ya.backward(ts.tensor(do))
    yb.backward(torch.tensor(do))
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("have_scipy", [True, False])
def test_sdpa_small_problems_without_scipy_take_the_math_path(have_scipy, monkeypatch):
    """Numba's np.dot needs SciPy, which tensorstein does not depend on: without it the math path serves."""
    from tensorstein._kernels import attention_small as AS

    monkeypatch.setattr(AS, "HAVE_SCIPY", have_scipy)
    calls = []
    real = AS.small_forward
    monkeypatch.setattr(AS, "small_forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    import tensorstein._kernels.flash_forward as FF
    monkeypatch.setattr(FF, "small_forward", AS.small_forward)
    q, k, v, _ = _attn_inputs(2, 2, 2, 16, 16, 8, 8, np.float32)
    y = F.scaled_dot_product_attention(ts.tensor(q), ts.tensor(k), ts.tensor(v), is_causal=True)
    want = TF.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), is_causal=True)
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    assert bool(calls) == have_scipy


# ------------------------------------------------------------------ AdamW: branch-free kernel, split over threads
@pytest.mark.parametrize("kw", [{"lr": 1e-3}, {"lr": 0.02, "betas": (0.3, 0.99), "weight_decay": 0.1},
                                {"lr": 0.01, "weight_decay": 0.0}])
@pytest.mark.parametrize("split", [False, True])
def test_adamw_many_params_vs_torch_and_general_kernel(kw, split, monkeypatch):
    from tensorstein import nn, optim
    from tensorstein.optim import _kernels as K
    from tensorstein.optim import adam as adam_mod
    if split:
        monkeypatch.setattr(adam_mod, "_SPLIT_MIN", 0)
    shapes = [(64, 65), (192, 64), (192,), (256, 64), (64,), (7,), (3, 5, 2)]
    arrs = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    p_ts = [nn.Parameter(ts.tensor(a)) for a in arrs]
    p_gen = [nn.Parameter(ts.tensor(a)) for a in arrs]
    p_th = [torch.nn.Parameter(torch.tensor(a)) for a in arrs]
    o_ts, o_gen, o_th = optim.AdamW(p_ts, **kw), optim.AdamW(p_gen, **kw), torch.optim.AdamW(p_th, **kw)
    for it in range(6):
        for a, c, b in zip(p_ts, p_gen, p_th):
            g = RNG.standard_normal(a.shape).astype(np.float32) * 10.0 ** (it - 3)
            a.grad, c.grad, b.grad = ts.tensor(g), ts.tensor(g), torch.tensor(g)
        o_ts.step()
        o_th.step()
        with monkeypatch.context() as m:  # the general (amsgrad / maximize) kernel on the same numbers
            m.setattr(adam_mod, "adam_plain_kernel", lambda: None)
            o_gen.step()
    assert K.adam_plain_kernel() is not None
    for a, c, b in zip(p_ts, p_gen, p_th):
        np.testing.assert_array_equal(a.detach().numpy(), c.detach().numpy())
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-7)
    for p, q in zip(p_ts, p_th):
        np.testing.assert_allclose(o_ts.state[p]["exp_avg_sq"].numpy(), o_th.state[q]["exp_avg_sq"].numpy(),
                                   rtol=1e-6, atol=0)


def test_small_attention_strided_heads_match_math():
    """q, k, v as the multi-head attention hands them over: strided views of one (L, N, 3E) projection."""
    L, N, H, E = 24, 3, 4, 8
    x = RNG.standard_normal((L, N, 3 * H * E)).astype(np.float32)
    q, k, v = (x[..., i * H * E:(i + 1) * H * E].reshape(L, N * H, E).transpose(1, 0, 2).reshape(N, H, L, E)
               for i in range(3))
    assert not q.flags.c_contiguous
    do = RNG.standard_normal((N, H, L, E)).astype(np.float32)[..., ::1]
    out, lse = small_forward(q, k, v, causal="top_left")
    want_out, want_lse = attention_math(q, k, v, causal="top_left")
    np.testing.assert_allclose(out, want_out, rtol=2e-5, atol=2e-5)
    for a, b in zip(small_backward(q, k, v, out, lse, do.transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2),
                                   causal="top_left"),
                    attention_math_backward(q, k, v, want_out, want_lse, do, causal="top_left")):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ linear backward on arrays
@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 5), (5,)])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_linear_array_backward_equals_graph_path_and_torch(shape, with_bias, dt):
    x = RNG.standard_normal(shape).astype(dt)
    w = RNG.standard_normal((4, 5)).astype(dt)
    b = RNG.standard_normal(4).astype(dt)
    g = RNG.standard_normal(shape[:-1] + (4,)).astype(dt)
    grads = []
    for create_graph in (False, True):  # create_graph records the backward: the Tensor-level path
        args = [ts.tensor(x, requires_grad=True), ts.tensor(w, requires_grad=True)]
        args.append(ts.tensor(b, requires_grad=True) if with_bias else None)
        F.linear(*args).backward(ts.tensor(g), create_graph=create_graph)
        grads.append([a.grad.detach().numpy() for a in args if a is not None])
    for a, c in zip(*grads):
        np.testing.assert_array_equal(a, c)
    targs = [torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)]
    targs.append(torch.tensor(b, requires_grad=True) if with_bias else None)
    TF.linear(*targs).backward(torch.tensor(g))
    for a, t in zip(grads[0], [t for t in targs if t is not None]):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ batched matmul backward on arrays
@pytest.mark.parametrize("sa,sb", [((2, 3, 4, 5), (2, 3, 5, 6)), ((2, 1, 4, 5), (3, 5, 6)), ((4, 5), (2, 5, 6)),
                                   ((5,), (2, 5, 6)), ((2, 3, 4, 5), (1, 3, 5, 2))])
@pytest.mark.parametrize("transposed", [False, True])
def test_batched_matmul_array_backward_equals_graph_path_and_torch(sa, sb, transposed):
    x = RNG.standard_normal(sa).astype(np.float32)
    y = RNG.standard_normal(sb).astype(np.float32)
    if transposed:  # strided operands, as attention's q @ k.transpose(-2, -1)
        y = np.ascontiguousarray(np.swapaxes(y, -1, -2))
    out_shape = torch.matmul(torch.tensor(x), torch.tensor(y).mT if transposed else torch.tensor(y)).shape
    g = RNG.standard_normal(tuple(out_shape)).astype(np.float32)
    grads = []
    for create_graph in (False, True):
        a, b = ts.tensor(x, requires_grad=True), ts.tensor(y, requires_grad=True)
        (a @ (b.mT if transposed else b)).backward(ts.tensor(g), create_graph=create_graph)
        grads.append((a.grad.detach().numpy(), b.grad.detach().numpy()))
    for u, w in zip(*grads):
        np.testing.assert_array_equal(u, w)
    a, b = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    (a @ (b.mT if transposed else b)).backward(torch.tensor(g))
    np.testing.assert_allclose(grads[0][0], a.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grads[0][1], b.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_small_attention_takes_one_thread_size_products_only(monkeypatch):
    from tensorstein._kernels import attention_small as AS
    from tensorstein._kernels import flash_forward as FF
    from tensorstein._kernels.attention_common import prepare
    q, k, v, _ = _attn_inputs(1, 2, 2, 64, 64, 128, 128, np.float32)  # 64*64*128 > 65536*4: BLAS may thread
    assert not AS.takes(prepare(q, k, v))
    with pytest.raises(ValueError, match="one-thread-size"):
        small_forward(q, k, v)
    called = []
    monkeypatch.setattr(FF, "attention_math", lambda *a, **kw: called.append(1) or attention_math(*a, **kw))
    out, _ = FF.attention_forward(q, k, v)  # 'auto' on a small problem the module does not take: math
    assert called and out.shape == (1, 2, 64, 128)
    assert AS.takes(prepare(*_attn_inputs(1, 2, 2, 64, 64, 64, 64, np.float32)[:3]))


# ------------------------------------------------------------------ batch-first self-attention route
@pytest.mark.parametrize("mask_kind", [None, "float", "bool", "causal"])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_batch_first_self_attention_vs_torch(mask_kind, bias):
    N, L, E, H = 3, 7, 8, 2
    ts.manual_seed(0)
    ours = ts.nn.MultiheadAttention(E, H, bias=bias, batch_first=True)
    ref = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=True)
    with torch.no_grad():
        for name, p in ref.named_parameters():
            p.copy_(torch.tensor(dict(ours.named_parameters())[name].detach().numpy()))
    x = RNG.standard_normal((N, L, E)).astype(np.float32)
    g = RNG.standard_normal((N, L, E)).astype(np.float32)
    causal = mask_kind == "causal"
    mask = {None: None, "float": np.triu(np.full((L, L), -np.inf, np.float32), 1),
            "bool": np.triu(np.ones((L, L), bool), 1), "causal": np.triu(np.full((L, L), -np.inf, np.float32), 1)}[
        mask_kind]
    xa, xb = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya = ours(xa, xa, xa, attn_mask=None if mask is None else ts.tensor(mask), need_weights=False, is_causal=causal)
    yb = ref(xb, xb, xb, attn_mask=None if mask is None else torch.tensor(mask), need_weights=False,
             is_causal=causal)
    assert ya[1] is None and yb[1] is None
    np.testing.assert_allclose(ya[0].detach().numpy(), yb[0].detach().numpy(), rtol=1e-5, atol=1e-5)
    ya[0].backward(ts.tensor(g))
    yb[0].backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad.numpy(), xb.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].grad.numpy(), p.grad.numpy(), rtol=1e-4,
                                   atol=1e-5)
    # the sequence-first route (functional) on the transposed input gives the same output
    ya2 = F.multi_head_attention_forward(
        xa.detach().transpose(0, 1), xa.detach().transpose(0, 1), xa.detach().transpose(0, 1), E, H,
        ours.in_proj_weight, ours.in_proj_bias, None, None, False, 0.0, ours.out_proj.weight, ours.out_proj.bias,
        need_weights=False, attn_mask=None if mask is None else ts.tensor(mask), is_causal=causal)[0]
    np.testing.assert_allclose(ya2.transpose(0, 1).detach().numpy(), ya[0].detach().numpy(), rtol=1e-6, atol=1e-6)


def test_mha_batch_first_route_errors_match_torch():
    ours = ts.nn.MultiheadAttention(8, 2, batch_first=True)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    xa, xb = ts.randn(2, 5, 8), torch.randn(2, 5, 8)
    with pytest.raises(RuntimeError) as e1:
        ours(xa, xa, xa, need_weights=False, is_causal=True)
    with pytest.raises(RuntimeError) as e2:
        ref(xb, xb, xb, need_weights=False, is_causal=True)
    assert str(e1.value) == str(e2.value)
