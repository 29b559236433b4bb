"""Flash-attention micro-kernel geometry (validated data) and the head dims it lists."""

import dataclasses

import numpy as np
import pytest

from tensorstein._kernels import flash_micro as fm
from tensorstein._kernels.attention_math import attention_math, attention_math_backward
from tensorstein._kernels.flash_attention import attention_backward, attention_forward

TOL32 = dict(rtol=2e-4, atol=2e-5)


def test_default_geometry():
    g = fm.GEOMETRY
    assert (g.lanes, g.rows, g.panel) == (16, 8, 32)
    assert g.head_dims == (64, 128)
    assert g.qk_registers == 19 and g.pv_registers == 29
    assert fm.supports(np.float32, 64, 128) and not fm.supports(np.float64, 64)
    assert not fm.supports(np.float32, 64, 96)
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.rows = 4


@pytest.mark.parametrize("kwargs, msg", [
    (dict(lanes=12), "lanes must be a power of two"),
    (dict(rows=0), "rows must be >= 1"),
    (dict(panel=40), "panel 40 must be a multiple of lanes 16"),
    (dict(pv_cols=24), "pv_cols 24 must be a multiple of lanes 16"),
    (dict(pv_rows=(6, 4, 2)), "pv_rows must decrease strictly down to 1"),
    (dict(pv_rows=(4, 6, 1)), "pv_rows must decrease strictly down to 1"),
    (dict(head_dims=(96,)), "head dim 96 must be a positive multiple of pv_cols 64"),
    (dict(head_dims=(64, 64)), "repeated head dim"),
    (dict(rows=16), "score micro-tile 16x32 needs 35 vector registers, the target has 32"),
    (dict(pv_rows=(8, 1)), r"P @ V micro-tile 8x64 needs 37 vector registers"),
    (dict(unroll=0), "unroll must be >= 1"),
])
def test_geometry_validation(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        fm.MicroTile(**kwargs)


def _inputs(rng, B, H, Hkv, L, S, E, Ev):
    def f(*s):
        return rng.standard_normal(s).astype(np.float32)

    return f(B, H, L, E), f(B, Hkv, S, E), f(B, Hkv, S, Ev), f(B, H, L, Ev)


@pytest.mark.parametrize("E, Ev", [(128, 128), (64, 128), (128, 64)])
@pytest.mark.parametrize("opts", [dict(), dict(causal="top_left"), dict(causal="bottom_right"),
                                  dict(window=(20, 5)), dict(mask="bool")])
@pytest.mark.parametrize("L, S, blocks", [(67, 45, (24, 100)), (200, 333, (None, None)),
                                          (1, 70, (64, 64))])
def test_head_dim_128_micro_vs_blas_vs_math(E, Ev, opts, L, S, blocks):
    rng = np.random.default_rng(L * 7 + E + Ev)
    q, k, v, do = _inputs(rng, 2, 4, 2, L, S, E, Ev)
    o = dict(opts)
    if o.get("mask") == "bool":
        o["mask"] = rng.random((1, 4, L, S)) > 0.3
    bq, bk = blocks
    om, lm = attention_math(q, k, v, **o)
    gm = attention_math_backward(q, k, v, om, lm, do, **o)
    fin = np.isfinite(lm)
    for micro in (True, False):
        out, lse = attention_forward(q, k, v, impl="flash", block_q=bq, block_k=bk,
                                     use_micro=micro, **o)
        np.testing.assert_allclose(out, om, **TOL32)
        assert np.array_equal(np.isneginf(lse), np.isneginf(lm))
        np.testing.assert_allclose(lse[fin], lm[fin], **TOL32)
        g = attention_backward(q, k, v, out, lse, do, impl="flash", block_q=bq, block_k=bk,
                               use_micro=micro, **o)
        for a, b in zip(g, gm):
            assert a.dtype == np.float32 and a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_head_dim_128_thread_paths(threads):
    rng = np.random.default_rng(threads)
    q, k, v, do = _inputs(rng, 1, 4, 2, 300, 340, 128, 128)
    om, lm = attention_math(q, k, v, causal="bottom_right")
    out, lse = attention_forward(q, k, v, impl="flash", threads=threads, block_q=128,
                                 block_k=96, causal="bottom_right")
    np.testing.assert_allclose(out, om, **TOL32)
    g = attention_backward(q, k, v, out, lse, do, impl="flash", threads=threads,
                           causal="bottom_right")
    for a, b in zip(g, attention_math_backward(q, k, v, om, lm, do, causal="bottom_right")):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_drivers_against_numpy():
    """The tile drivers alone: scores with folded row maxima, P @ V and P^T @ V."""
    rng = np.random.default_rng(0)
    for E in (64, 128, 40):  # 40: the generic (runtime head dim) score kernel
        q = rng.standard_normal((16, E)).astype(np.float32)
        k = rng.standard_normal((70, E)).astype(np.float32)
        kp = np.empty((3, E, fm.PANEL), np.float32)
        fm.pack_head(k, kp, 0.5)
        s = np.empty((16, 96), np.float32)
        mx = np.empty((16, fm.LANES), np.float32)
        fm.qk_tile(q, kp, 0, s, 1 << 40, mx)
        ref = q @ (0.5 * k).T
        np.testing.assert_allclose(s[:, :70], ref, rtol=1e-5, atol=1e-4)
        assert np.all(s[:, 70:] == 0)
        np.testing.assert_allclose(mx.max(1), np.maximum(ref.max(1), 0), rtol=1e-5, atol=1e-4)
    for D in (64, 128):
        p = rng.standard_normal((13, 50)).astype(np.float32)
        v = rng.standard_normal((80, D)).astype(np.float32)
        o = rng.standard_normal((13, D)).astype(np.float32)
        o0 = o.copy()
        fm.pv_tile(p, 45, v, 7, o, 1 << 40)
        np.testing.assert_allclose(o, o0 + p[:, :45] @ v[7:52], rtol=1e-5, atol=1e-4)
        ot = rng.standard_normal((45, D)).astype(np.float32)
        ot0 = ot.copy()
        fm.ptv_tile(p, 11, 45, v, 3, ot)
        np.testing.assert_allclose(ot, ot0 + p[:11, :45].T @ v[3:14], rtol=1e-5, atol=1e-4)
