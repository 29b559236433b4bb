"""NumPy-level attention kernels vs the math reference vs torch (oracle only)."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tensorstein._kernels import fast_exp as fe  # noqa: E402
from tensorstein._kernels.attention_common import index_mask, prepare  # noqa: E402
from tensorstein._kernels.attention_flex import (  # noqa: E402
    flex_attention_backward,
    flex_attention_forward,
)
from tensorstein._kernels.attention_math import attention_math, attention_math_backward  # noqa: E402
from tensorstein._kernels.flash_attention import attention_backward, attention_forward  # noqa: E402

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _rand(rng, shape, dt, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dt)


def make(B=1, H=2, Hkv=None, L=37, S=53, E=16, Ev=None, dt=np.float64, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    Hkv = Hkv or H
    Ev = Ev or E
    return (_rand(rng, (B, H, L, E), dt, scale), _rand(rng, (B, Hkv, S, E), dt, scale),
            _rand(rng, (B, Hkv, S, Ev), dt), _rand(rng, (B, H, L, Ev), dt))


def torch_ref(q, k, v, dout, **opts):
    """torch SDPA in float64 with the band/mask made explicit."""
    spec = prepare(q, k, v, **{kk: vv for kk, vv in opts.items() if kk != "impl"})
    B, H, L, S = spec.B, spec.H, spec.L, spec.S
    allow = np.broadcast_to(index_mask(spec, 0, L, 0, S), (B, H, L, S))
    add = np.zeros((B, H, L, S))
    if spec.mask is not None:
        if spec.mask_is_bool:
            allow = allow & spec.mask
        else:
            add = add + spec.mask.astype(np.float64)
    bias = np.where(allow, add, -np.inf)
    tq, tk, tv = (torch.tensor(x.astype(np.float64), requires_grad=True) for x in (q, k, v))
    o = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=torch.tensor(bias), scale=spec.scale, enable_gqa=True)
    o.backward(torch.tensor(dout.astype(np.float64)))
    dead = ~allow.any(-1)
    out = np.where(dead[..., None], 0.0, np.nan_to_num(o.detach().numpy()))
    grads = [np.nan_to_num(t.grad.numpy()) for t in (tq, tk, tv)]
    return out, grads


def check(q, k, v, dout, impl="flash", block_q=None, block_k=None, **opts):
    dt = q.dtype.type
    tol = TOL[dt]
    out, lse = attention_forward(q, k, v, impl=impl, block_q=block_q, block_k=block_k, **opts)
    assert out.dtype == q.dtype and lse.dtype == q.dtype
    assert not np.isnan(out).any()
    om, lm = attention_math(q, k, v, **opts)
    np.testing.assert_allclose(out, om, **tol)
    assert np.array_equal(np.isneginf(lse), np.isneginf(lm))
    fin = np.isfinite(lm)
    np.testing.assert_allclose(lse[fin], lm[fin], **tol)
    tout, tgrads = torch_ref(q, k, v, dout, **opts)
    np.testing.assert_allclose(out, tout, **tol)
    grads = attention_backward(q, k, v, out, lse, dout, impl=impl, block_q=block_q,
                               block_k=block_k, **opts)
    mgrads = attention_math_backward(q, k, v, om, lm, dout, **opts)
    for g, mg, tg, x in zip(grads, mgrads, tgrads, (q, k, v)):
        assert g.shape == x.shape and g.dtype == x.dtype
        np.testing.assert_allclose(mg, tg, **tol)
        np.testing.assert_allclose(g, tg, **tol)
    return out, lse, grads


# ----------------------------------------------------------------- fast exp
def test_fast_exp_float32_accuracy():
    x = np.linspace(-87, 88, 2_000_001, dtype=np.float32)
    y = fe.exp(x)
    ref = np.exp(x.astype(np.float64))
    assert np.max(np.abs(y - ref) / ref) < 1e-6


def test_fast_exp_float64_accuracy():
    x = np.linspace(-700, 700, 200_001)
    assert np.max(np.abs(fe.exp(x) - np.exp(x)) / np.exp(x)) < 1e-13


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_fast_exp_special(dt):
    x = np.array([-np.inf, -1e30, -1e4, -800, -100, 0.0, 1.0, 1e4, np.inf], dtype=dt)
    y = fe.exp(x)
    assert y.dtype == dt
    assert np.all(y[:4] == 0)
    assert y[5] == 1 and abs(y[6] - np.e) < 1e-6
    assert np.isposinf(y[-1]) and np.isposinf(y[-2])
    if dt is np.float32:
        assert y[4] == 0
    out = np.empty_like(x)
    assert fe.exp(x, out=out) is out
    assert fe.exp(np.arange(3)).tolist() == np.exp(np.arange(3)).tolist()


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 200, 1024, 1031])
def test_softmax_row_helpers(dt, n):
    """``row_max`` / ``exp_sub_sum`` (explicit-vector float32 path, scalar tails)."""
    from numba import njit

    @njit
    def run(x):
        m = fe.row_max(x)
        if m == -np.inf:
            return m, 0.0
        return m, fe.exp_sub_sum(x, m)

    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 30).astype(dt)
    if n > 5:
        x[::5] = -np.inf
        x[3] = -1e30
    y = x.copy()
    m, s = run(y)
    if n == 0:
        assert m == -np.inf
        return
    assert m == x.max()
    ref = np.exp((x - m).astype(np.float64))  # the difference rounds in dt
    tol = 1e-6 if dt is np.float32 else 1e-13
    big = ref > 1e-30
    assert np.all(np.abs(y[big] - ref[big]) <= tol * ref[big])
    assert np.all(y[~big] <= 1e-30) and np.all(y[np.isneginf(x)] == 0)
    assert abs(s - ref.sum()) <= 10 * tol * ref.sum()
    assert run(np.full(max(n, 1), -np.inf, dtype=dt))[0] == -np.inf


def test_import_does_not_compile():
    code = ("import tensorstein._kernels.flash_attention, tensorstein._kernels.fast_exp as fe;"
            "import tensorstein._kernels.flash_tiles as ft, tensorstein._kernels.flash_micro as fm;"
            "assert not ft.fwd_tile.signatures and not fm.qk_tile.signatures and not fe._exp_f32_1d.signatures")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ----------------------------------------------------------------- kernels
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [None, "top_left", "bottom_right"])
def test_basic_causal(dt, causal):
    q, k, v, do = make(B=2, H=3, L=45, S=70, E=16, Ev=24, dt=dt)
    check(q, k, v, do, causal=causal, block_q=16, block_k=32)
    q, k, v, do = make(B=1, H=2, L=70, S=45, E=8, dt=dt, seed=1)  # L > S: dead rows bottom_right
    out, lse, _ = check(q, k, v, do, causal=causal, block_q=16, block_k=32)
    if causal == "bottom_right":
        assert np.all(out[:, :, :25] == 0) and np.all(np.isneginf(lse[:, :, :25]))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gqa(dt):
    q, k, v, do = make(B=2, H=6, Hkv=2, L=33, S=41, E=8, Ev=12, dt=dt)
    check(q, k, v, do, block_q=16, block_k=16)
    check(q, k, v, do, causal="top_left", block_q=16, block_k=16)


@pytest.mark.parametrize("window", [(5, 3), (0, 0), (10, None), (None, 2), (-2, 6)])
@pytest.mark.parametrize("causal", [None, "bottom_right"])
def test_window(window, causal):
    q, k, v, do = make(B=1, H=2, L=50, S=64, E=8)
    check(q, k, v, do, window=window, causal=causal, block_q=16, block_k=16)


def test_window_alignment():
    q, k, v, do = make(B=1, H=1, L=20, S=40, E=8)
    check(q, k, v, do, window=(3, 3), alignment="bottom_right", block_q=8, block_k=8)
    with pytest.raises(ValueError):
        attention_forward(q, k, v, causal="top_left", alignment="bottom_right")


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 37, 53), (2, 1, 1, 53), (1, 3, 37, 1), (37, 53)])
def test_bool_mask_broadcast(dt, shape):
    rng = np.random.default_rng(3)
    q, k, v, do = make(B=2 if shape[0] == 2 else 1, H=3, L=37, S=53, E=8, dt=dt)
    m = rng.random(shape) > 0.3
    check(q, k, v, do, mask=m, block_q=16, block_k=16)
    check(q, k, v, do, mask=m, causal="top_left", block_q=16, block_k=16)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_float_mask(dt):
    rng = np.random.default_rng(4)
    q, k, v, do = make(B=2, H=2, L=30, S=40, E=8, dt=dt)
    m = rng.standard_normal((2, 1, 30, 40))
    m[:, :, :, ::7] = -np.inf
    check(q, k, v, do, mask=m, block_q=8, block_k=16)
    check(q, k, v, do, mask=m.astype(dt)[0, 0], causal="bottom_right", block_q=8, block_k=16)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_fully_masked_rows(dt):
    q, k, v, do = make(B=1, H=2, L=20, S=30, E=8, dt=dt)
    m = np.ones((1, 2, 20, 30), bool)
    m[0, 0, 3] = False
    m[0, 1, 7:9] = False
    out, lse, grads = check(q, k, v, do, mask=m, block_q=8, block_k=8)
    assert np.all(out[0, 0, 3] == 0) and np.isneginf(lse[0, 0, 3])
    assert np.all(grads[0][0, 1, 7:9] == 0)
    fm = np.where(m, 0.0, -np.inf).astype(dt)
    out2, lse2, _ = check(q, k, v, do, mask=fm, block_q=8, block_k=8)
    np.testing.assert_allclose(out2, out, **TOL[dt])
    out3, lse3 = attention_forward(q, k, v, mask=np.zeros((20, 30), bool), impl="flash")
    assert np.all(out3 == 0) and np.all(np.isneginf(lse3))
    out4, _ = attention_forward(q, k, v, mask=np.zeros((20, 30), bool), impl="math")
    assert np.all(out4 == 0)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_large_logits(dt):
    q, k, v, do = make(B=1, H=2, L=40, S=50, E=4, dt=dt)
    rng = np.random.default_rng(5)
    m = (rng.standard_normal((40, 50)) * 1e4).astype(dt)
    out, lse = attention_forward(q, k, v, mask=m, impl="flash", block_q=16, block_k=16)
    om, lm = attention_math(q, k, v, mask=m)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(lse))
    np.testing.assert_allclose(out, om, **TOL[dt])
    np.testing.assert_allclose(lse, lm, rtol=1e-6)
    q, k = q * 300, k * 300  # scores ~ +-1e4
    if dt is np.float64:
        check(q, k, v, do, block_q=16, block_k=16)
    else:  # float32 scores of 1e4 carry ~1e-3 absolute error: compare to math only
        out, lse = attention_forward(q, k, v, impl="flash", block_q=16, block_k=16)
        om, lm = attention_math(q, k, v)
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out, om, rtol=1e-2, atol=1e-2)


def test_long_odd_sizes():
    q, k, v, do = make(B=1, H=2, Hkv=1, L=1500, S=1500, E=24, Ev=40, dt=np.float32)
    check(q, k, v, do, impl="auto")
    check(q, k, v, do, impl="auto", causal="top_left")
    check(q, k, v, do, impl="auto", window=(300, 100))


def test_noncontiguous_inputs_and_threads():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 100, 3, 16)).astype(np.float32)  # (B, L, H, E) layout
    q = x.transpose(0, 2, 1, 3)
    k = x[:, ::-1].transpose(0, 2, 1, 3)
    v = x.transpose(0, 2, 1, 3) * 2
    ref = attention_math(q, k, v, causal="top_left")[0]
    for th in (1, 2, 3):
        out, _ = attention_forward(q, k, v, causal="top_left", impl="flash", block_q=32,
                                   block_k=32, threads=th)
        np.testing.assert_allclose(out, ref, **TOL[np.float32])
    do = np.ones_like(ref)
    g1 = attention_backward(q, k, v, out, _, do, causal="top_left", impl="flash", threads=1,
                            block_q=32, block_k=32)
    g3 = attention_backward(q, k, v, out, _, do, causal="top_left", impl="flash", threads=3,
                            block_q=32, block_k=32)
    for a, b in zip(g1, g3):
        np.testing.assert_allclose(a, b, **TOL[np.float32])


def test_errors():
    q, k, v, _ = make()
    with pytest.raises(ValueError):
        attention_forward(q[0], k, v)
    with pytest.raises(TypeError):
        attention_forward(q, k.astype(np.float32), v)
    with pytest.raises(ValueError):
        attention_forward(q, k, v, causal="diagonal")
    with pytest.raises(ValueError):
        attention_forward(q, k, v, mask=np.ones((5, 5), bool))
    q2, k2, v2, _ = make(H=3, Hkv=2)
    with pytest.raises(ValueError):
        attention_forward(q2, k2, v2)


# ----------------------------------------------------------------- flex path
def test_flex_score_mod_and_mask_mod():
    q, k, v, do = make(B=2, H=4, Hkv=2, L=50, S=60, E=8, Ev=6)
    slopes = np.array([0.5, 0.25, 0.125, 0.0625])

    def alibi(s, b, h, qi, ki):
        return s - slopes[h] * np.abs(qi - ki)

    def alibi_vjp(s, b, h, qi, ki):
        return alibi(s, b, h, qi, ki), (lambda g: g)

    def even_keys(b, h, qi, ki):
        return (ki % 2 == 0) | (qi == 3)

    L, S = 50, 60
    qi, ki = np.arange(L)[:, None], np.arange(S)[None, :]
    bias = -slopes[None, :, None, None] * np.abs(qi - ki)[None, None]
    keep = (ki % 2 == 0) | (qi == 3)
    full = np.where(keep[None, None], bias, -np.inf)
    for causal in (None, "top_left"):
        out, lse = flex_attention_forward(q, k, v, score_mod=alibi, mask_mod=even_keys,
                                          causal=causal, block_q=16, block_k=16)
        om, lm = attention_math(q, k, v, mask=full, causal=causal)
        np.testing.assert_allclose(out, om, **TOL[np.float64])
        np.testing.assert_allclose(lse, lm, **TOL[np.float64])
        g = flex_attention_backward(q, k, v, out, lse, do, score_mod_vjp=alibi_vjp,
                                    mask_mod=even_keys, causal=causal, block_q=16, block_k=16)
        gm = attention_math_backward(q, k, v, om, lm, do, mask=full, causal=causal)
        for a, b in zip(g, gm):
            np.testing.assert_allclose(a, b, **TOL[np.float64])


def test_flex_softcap_gradient_vs_torch():
    q, k, v, do = make(B=1, H=2, L=30, S=30, E=8, scale=2.0)
    cap = 3.0

    def softcap_vjp(s, b, h, qi, ki):
        t = np.tanh(s / cap)
        return cap * t, (lambda g: g * (1 - t * t))

    out, lse = flex_attention_forward(q, k, v, score_mod_vjp=softcap_vjp, causal="top_left",
                                      block_q=8, block_k=8)
    dq, dk, dv = flex_attention_backward(q, k, v, out, lse, do, score_mod_vjp=softcap_vjp,
                                         causal="top_left", block_q=8, block_k=8)
    tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    s = cap * torch.tanh((tq @ tk.transpose(-1, -2)) / np.sqrt(8) / cap)
    s = s.masked_fill(~torch.ones(30, 30, dtype=torch.bool).tril(), float("-inf"))
    o = torch.softmax(s, -1) @ tv
    o.backward(torch.tensor(do))
    np.testing.assert_allclose(out, o.detach().numpy(), rtol=1e-9, atol=1e-11)
    for a, t in zip((dq, dk, dv), (tq, tk, tv)):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-9, atol=1e-11)
    with pytest.raises(ValueError):
        flex_attention_backward(q, k, v, out, lse, do, score_mod=lambda s, *a: s)


def test_flex_matches_flash_with_masks():
    q, k, v, do = make(B=1, H=2, L=40, S=40, E=8, dt=np.float32)
    m = np.random.default_rng(7).random((40, 40)) > 0.5
    for opts in (dict(mask=m), dict(window=(4, 2)), dict(causal="bottom_right", mask=m)):
        o1, l1 = flex_attention_forward(q, k, v, block_q=16, block_k=16, **opts)
        o2, l2 = attention_forward(q, k, v, impl="flash", block_q=16, block_k=16, **opts)
        np.testing.assert_allclose(o1, o2, **TOL[np.float32])
        g1 = flex_attention_backward(q, k, v, o1, l1, do, block_q=16, block_k=16, **opts)
        g2 = attention_backward(q, k, v, o2, l2, do, impl="flash", block_q=16, block_k=16, **opts)
        for a, b in zip(g1, g2):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("opts", [
    dict(), dict(causal="top_left"), dict(causal="bottom_right"), dict(window=(20, 5)),
    dict(window=(3, None), alignment="bottom_right"), dict(mask="bool"), dict(mask="float")])
@pytest.mark.parametrize("shape", [(37, 53, 2, 1, 16), (200, 333, 2, 2, 64), (1, 70, 1, 1, 8),
                                   (67, 45, 4, 2, 64)])
@pytest.mark.parametrize("blocks", [(None, None), (24, 100), (64, 64)])
def test_micro_kernel_path(opts, shape, blocks):
    """float32 with value dim 64 runs the register-blocked QK/PV micro-kernels
    (padded rows, panel-aligned key blocks, causal/window panel skipping);
    with both head dims 64 the backward uses them too."""
    L, S, H, Hkv, E = shape
    rng = np.random.default_rng(L + S)
    q = _rand(rng, (2, H, L, E), np.float32)
    k = _rand(rng, (2, Hkv, S, E), np.float32)
    v = _rand(rng, (2, Hkv, S, 64), np.float32)
    o = dict(opts)
    if o.get("mask") == "bool":
        o["mask"] = rng.random((1, H, L, S)) > 0.3
    elif o.get("mask") == "float":
        o["mask"] = _rand(rng, (L, S), np.float32)
    out, lse = attention_forward(q, k, v, impl="flash", block_q=blocks[0], block_k=blocks[1], **o)
    ref, lref = attention_forward(q, k, v, impl="flash", block_q=blocks[0], block_k=blocks[1],
                                  use_micro=False, **o)
    om, lm = attention_math(q, k, v, **o)
    for got in (out, ref):
        np.testing.assert_allclose(got, om, **TOL[np.float32])
    assert np.array_equal(np.isneginf(lse), np.isneginf(lm))
    fin = np.isfinite(lm)
    np.testing.assert_allclose(lse[fin], lm[fin], **TOL[np.float32])
    if E == 64:  # backward micro-kernel path (head dims 64)
        dout = _rand(rng, out.shape, np.float32)
        bq, bk = blocks
        g = attention_backward(q, k, v, out, lse, dout, impl="flash", block_q=bq, block_k=bk, **o)
        gr = attention_backward(q, k, v, out, lse, dout, impl="flash", block_q=bq, block_k=bk,
                                use_micro=False, **o)
        gm = attention_math_backward(q, k, v, om, lm, dout, **o)
        for a, b_, c in zip(g, gr, gm):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, c, rtol=1e-3, atol=1e-4)
            np.testing.assert_allclose(b_, c, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("opts", [dict(), dict(causal="top_left"), dict(window=(50, 10)),
                                  dict(mask="bool"), dict(scale=0.3, causal="bottom_right")])
@pytest.mark.parametrize("L", [300, 301])
def test_micro_forward_thread_paths(opts, L):
    """Forward micro path: kv heads split evenly over the threads (one call per
    thread, packing included) vs dynamically pulled items (odd thread count),
    Q used in place (contiguous, rows % 8 == 0) or copied (padded / strided),
    48-row sub-blocks limited to their own key range; scale folded into K."""
    rng = np.random.default_rng(L)
    x = _rand(rng, (1, L, 4, 64), np.float32)
    q = x.transpose(0, 2, 1, 3)  # strided
    k = _rand(rng, (1, 2, L + 40, 64), np.float32)
    v = _rand(rng, (1, 2, L + 40, 64), np.float32)
    o = dict(opts)
    if o.get("mask") == "bool":
        o["mask"] = rng.random((1, 1, L, L + 40)) > 0.3
    om, lm = attention_math(q, k, v, **o)
    fin = np.isfinite(lm)
    for qq in (q, np.ascontiguousarray(q)):
        for th in (1, 2, 3):
            out, lse = attention_forward(qq, k, v, impl="flash", threads=th, block_q=128,
                                         block_k=96, **o)
            np.testing.assert_allclose(out, om, **TOL[np.float32])
            assert np.array_equal(np.isneginf(lse), np.isneginf(lm))
            np.testing.assert_allclose(lse[fin], lm[fin], **TOL[np.float32])


@pytest.mark.parametrize("opts", [dict(), dict(causal="top_left"), dict(mask="float")])
def test_small_heads_on_the_team_equal_one_thread(opts, monkeypatch):
    """Small heads (attention_small) split over two threads: without a mask the team runs runs of (batch, kv
    head) units (strided q/k/v copied contiguous), with one the pool does; either way every unit is computed as
    on one thread, bit for bit, GQA groups' dK / dV included."""
    from tensorstein._kernels import attention_small as AS
    from tensorstein._kernels import native_parallel as NP

    rng = np.random.default_rng(5)
    x = _rand(rng, (4, 64, 8, 16), np.float32)
    q = x.transpose(0, 2, 1, 3)  # (B, H, L, E), strided
    k = _rand(rng, (4, 2, 64, 16), np.float32)
    v = _rand(rng, (4, 2, 64, 16), np.float32)
    do = _rand(rng, (4, 8, 64, 16), np.float32)
    o = dict(opts)
    if o.get("mask") == "float":
        o["mask"] = rng.standard_normal((64, 64)).astype(np.float32)
    launched = []
    real = NP.launch_rows
    monkeypatch.setattr(NP, "launch_rows", lambda kernel, *a, **kw: launched.append(kernel) or real(kernel, *a, **kw))
    out1, lse1 = AS.small_forward(q, k, v, threads=1, **o)
    g1 = AS.small_backward(q, k, v, out1, lse1, do, threads=1, **o)
    assert launched == []
    out2, lse2 = AS.small_forward(q, k, v, threads=2, **o)
    g2 = AS.small_backward(q, k, v, out2, lse2, do, threads=2, **o)
    assert launched == ([] if "mask" in o else [AS._fwd_rows, AS._bwd_rows])
    for a, b in zip((out1, lse1, *g1), (out2, lse2, *g2)):
        np.testing.assert_array_equal(a, b)
    om = attention_math(q, k, v, **o)[0]
    np.testing.assert_allclose(out1, om, **TOL[np.float32])
