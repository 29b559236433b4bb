"""The public ops wired to the fused kernels (_kernels/activations, pointwise, rows, reduce): values and
gradients (random upstream gradient) against torch and against the composite tensor-op oracles; float32 /
float64, half types through float32, 0-d, empty, non-contiguous, large (pool) operands; double backward
through the tensor-op path."""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tensorstein as ts  # noqa: E402
from tensorstein.nn import functional as F  # noqa: E402
from tensorstein.nn._functional import activation as A  # noqa: E402
from tensorstein.nn._functional import loss as FL  # noqa: E402
from tensorstein.nn._functional import normalization as FN  # noqa: E402

TF = torch.nn.functional
TOL = {"float32": 3e-6, "float64": 1e-12}
SHAPES = [(), (0,), (4, 6), (70_000,)]  # 0-d, empty, small, above the pool threshold

ACTS = [("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}), ("softplus", {}),
        ("softplus", {"beta": 2.0, "threshold": 3.0}), ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}),
        ("celu", {"alpha": 1.5}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("hardtanh", {}),
        ("hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("relu6", {}), ("hardsigmoid", {}), ("hardswish", {}),
        ("sigmoid", {}), ("tanh", {}), ("relu", {})]
COMPOSITES = {"gelu": A._gelu_composite, "silu": A._silu_composite, "mish": A._mish_composite,
              "softplus": A._softplus_composite, "elu": A._elu_composite, "leaky_relu": A._leaky_relu_composite,
              "hardsigmoid": A._hardsigmoid_composite, "hardswish": A._hardswish_composite}


def _pair(xn):
    return ts.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)


def _close(a, b, tol):
    np.testing.assert_allclose(a, b, rtol=3 * tol, atol=2 * tol)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("name,kw", ACTS, ids=[f"{n}{kw}" for n, kw in ACTS])
def test_activation_matches_torch(name, kw, dt):
    rng = np.random.default_rng(1)
    for shape in SHAPES:
        xn = np.asarray(rng.standard_normal(shape) * 3).astype(dt)
        if shape == (4, 6):
            xn[0, :3] = [0.0, 3.0, -3.0]  # the kinks
        gn = np.asarray(rng.standard_normal(shape)).astype(dt)
        a, b = _pair(xn)
        ya, yb = getattr(F, name)(a, **kw), getattr(TF, name)(b, **kw)
        ya.backward(ts.tensor(gn))
        yb.backward(torch.tensor(gn))
        assert ya.shape == tuple(yb.shape) and ya.dtype.name == dt
        assert type(ya.grad_fn).__name__ == type(yb.grad_fn).__name__
        _close(ya.detach().numpy(), yb.detach().numpy(), TOL[dt])
        _close(a.grad.numpy(), b.grad.numpy(), TOL[dt])


@pytest.mark.parametrize("name,kw", ACTS, ids=[f"{n}{kw}" for n, kw in ACTS])
def test_activation_double_backward(name, kw):
    rng = np.random.default_rng(2)
    xn = rng.standard_normal((4, 6)) * 3  # float64, no exact kinks
    gn = rng.standard_normal((4, 6))
    a, b = _pair(xn)
    ga, = ts.autograd.grad(getattr(F, name)(a, **kw), a, ts.tensor(gn), create_graph=True)
    gb, = torch.autograd.grad(getattr(TF, name)(b, **kw), b, torch.tensor(gn), create_graph=True)
    tol = 1e-8 if name == "hardsigmoid" else 1e-12  # torch's hardsigmoid backward scales by float32 1/6
    _close(ga.detach().numpy(), gb.detach().numpy(), tol)
    if ga.requires_grad:
        (ga * ga).sum().backward()
        (gb * gb).sum().backward()
        _close(a.grad.numpy(), b.grad.numpy(), 1e-10)


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
@pytest.mark.parametrize("name,kw", ACTS, ids=[f"{n}{kw}" for n, kw in ACTS])
def test_activation_half_types(name, kw, dt):
    xn = np.random.default_rng(3).standard_normal((5, 3)).astype(np.float32)
    ya = getattr(F, name)(ts.tensor(xn).to(getattr(ts, dt)), **kw)
    yb = getattr(TF, name)(torch.tensor(xn).to(getattr(torch, dt)), **kw)
    assert ya.dtype.name == dt
    np.testing.assert_allclose(ya.float().numpy(), yb.float().numpy(), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_fused_activation_matches_composite(name):
    """The kernel against its tensor-op oracle, values and gradients, non-contiguous input."""
    rng = np.random.default_rng(4)
    xn = rng.standard_normal((6, 9)) * 3
    gn = rng.standard_normal((9, 6))
    a1 = ts.tensor(xn, requires_grad=True)
    a2 = ts.tensor(xn, requires_grad=True)
    y1 = getattr(F, name)(a1.t())
    y2 = COMPOSITES[name](a2.t())
    y1.backward(ts.tensor(gn))
    y2.backward(ts.tensor(gn))
    _close(y1.detach().numpy(), y2.detach().numpy(), 1e-12)
    _close(a1.grad.numpy(), a2.grad.numpy(), 1e-8 if name == "hardsigmoid" else 1e-11)  # torch's float32 1/6


def test_erf_kernel_against_float64_reference():
    x = np.linspace(-6, 6, 20001).astype(np.float32)
    got = ts.erf(ts.tensor(x)).numpy().astype(np.float64)
    ref = np.array([math.erf(v) for v in x.astype(np.float64)])
    assert np.abs(got - ref).max() <= 4 * np.spacing(np.float32(1.0))  # within 4 ulps of 1
    np.testing.assert_allclose(got, torch.erf(torch.tensor(x)).numpy(), rtol=1e-6, atol=3e-7)
    assert np.isnan(ts.erf(ts.tensor([float("nan")])).item())


@pytest.mark.parametrize("dt", ["float32", "float64", "float16"])
@pytest.mark.parametrize("e", [3.0, 0.5, -1.0, -2.0, -0.5, 2.5, 4.0, 1.7, 3, 0.0])
def test_pow_scalar_kernel(e, dt):
    rng = np.random.default_rng(5)
    for shape in [(), (0, 2), (5, 7), (40_000,)]:
        xn = np.asarray(rng.standard_normal(shape)).astype(dt)
        if e != int(e) or e < 0:
            xn = np.abs(xn) + np.asarray(0.5, dt)
        gn = np.asarray(rng.standard_normal(shape)).astype(dt)
        a, b = _pair(xn)
        ya, yb = a ** e, b ** e
        ya.backward(ts.tensor(gn))
        yb.backward(torch.tensor(gn))
        assert ya.dtype.name == dt and ya.shape == tuple(yb.shape)
        tol = 1e-3 if dt == "float16" else 2 * TOL[dt]
        _close(ya.detach().float().numpy(), yb.detach().float().numpy(), tol)
        _close(a.grad.float().numpy(), b.grad.float().numpy(), tol)
    if e != 0 and dt == "float64":
        a, b = _pair(np.abs(rng.standard_normal((3, 4))) + 0.5)
        ga, = ts.autograd.grad((a ** e).sum(), a, create_graph=True)
        gb, = torch.autograd.grad((b ** e).sum(), b, create_graph=True)
        (ga * ga).sum().backward()
        (gb * gb).sum().backward()
        _close(a.grad.numpy(), b.grad.numpy(), 1e-12)


@pytest.mark.parametrize("fn", ["erf", "sigmoid", "tanh", "relu", "exp"])
def test_unary_ops_large_and_small(fn):
    rng = np.random.default_rng(6)
    for n in (7, 40_000):
        xn = rng.standard_normal(n).astype(np.float32)
        gn = rng.standard_normal(n).astype(np.float32)
        a, b = _pair(xn)
        getattr(ts, fn)(a).backward(ts.tensor(gn))
        getattr(torch, fn)(b).backward(torch.tensor(gn))
        _close(getattr(ts, fn)(a).detach().numpy(), getattr(torch, fn)(b).detach().numpy(), 2e-7)
        _close(a.grad.numpy(), b.grad.numpy(), 3e-7)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_kernel(fn, dt):
    rng = np.random.default_rng(7)
    tol = TOL[dt]
    for shape, dim in (((), 0), ((0, 3), 1), ((4, 7), -1), ((4, 7), 0), ((3, 5, 6), 1), ((300, 400), -1)):
        xn = np.asarray(rng.standard_normal(shape) * 3).astype(dt)
        gn = np.asarray(rng.standard_normal(shape)).astype(dt)
        a, b = _pair(xn)
        ya, yb = getattr(ts, fn)(a, dim), getattr(torch, fn)(b, dim)
        ya.backward(ts.tensor(gn))
        yb.backward(torch.tensor(gn))
        assert ya.shape == tuple(yb.shape)
        _close(ya.detach().numpy(), yb.detach().numpy(), tol)
        _close(a.grad.numpy(), b.grad.numpy(), tol)
    xn = rng.standard_normal((6, 5)).astype(dt)
    xn[1] = -np.inf  # a fully masked row: NaN, as torch
    xn[2, 1] = -np.inf
    got = getattr(ts, fn)(ts.tensor(xn).t(), 0).numpy()
    np.testing.assert_allclose(got, getattr(torch, fn)(torch.tensor(xn).t(), 0).numpy(), rtol=tol, atol=tol)
    a, b = _pair(rng.standard_normal((3, 4)).astype(dt))
    gn = rng.standard_normal((3, 4)).astype(dt)
    ga, = ts.autograd.grad(getattr(ts, fn)(a, -1), a, ts.tensor(gn), create_graph=True)
    gb, = torch.autograd.grad(getattr(torch, fn)(b, -1), b, torch.tensor(gn), create_graph=True)
    (ga * ga).sum().backward()
    (gb * gb).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_softmax_half(dt):
    xn = np.random.default_rng(8).standard_normal((4, 9)).astype(np.float32)
    for fn in ("softmax", "log_softmax"):
        ya = getattr(ts, fn)(ts.tensor(xn).to(getattr(ts, dt)), -1)
        yb = getattr(torch, fn)(torch.tensor(xn).to(getattr(torch, dt)), -1)
        assert ya.dtype.name == dt
        np.testing.assert_allclose(ya.float().numpy(), yb.float().numpy(), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("affine", ["none", "weight", "both"])
def test_layer_norm_kernel(affine, dt):
    rng = np.random.default_rng(9)
    tol = 10 * TOL[dt]
    for shape, ns in (((4, 6, 33), (33,)), ((3, 5, 4, 7), (4, 7)), ((9,), (9,)), ((0, 5), (5,))):
        xn = (rng.standard_normal(shape) * 3 + 1).astype(dt)
        gn = rng.standard_normal(shape).astype(dt)
        vals = (xn, rng.standard_normal(ns).astype(dt), rng.standard_normal(ns).astype(dt))
        A_ = [ts.tensor(v, requires_grad=True) for v in vals]
        B_ = [torch.tensor(v, requires_grad=True) for v in vals]
        C_ = [ts.tensor(v, requires_grad=True) for v in vals]
        pick = {"none": (False, False), "weight": (True, False), "both": (True, True)}[affine]

        def args(ts_, ns=ns, pick=pick):
            return [ts_[0], ns, ts_[1] if pick[0] else None, ts_[2] if pick[1] else None]

        ya, yb = F.layer_norm(*args(A_)), TF.layer_norm(*args(B_))
        yc = FN._layer_norm_composite(*args(C_))  # the oracle
        for y, gg in ((ya, ts.tensor(gn)), (yb, torch.tensor(gn)), (yc, ts.tensor(gn))):
            y.backward(gg)
        _close(ya.detach().numpy(), yb.detach().numpy(), tol)
        _close(ya.detach().numpy(), yc.detach().numpy(), tol)
        for p, q, c in zip(A_, B_, C_):
            if q.grad is None:
                assert p.grad is None
                continue
            _close(p.grad.numpy(), q.grad.numpy(), tol)
            _close(p.grad.numpy(), c.grad.numpy(), tol)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_layer_norm_split_over_threads(dt, monkeypatch):
    """A layer_norm large enough to split its rows over two threads (forward and the backward's per-range
    dweight / dbias sums, kept a cache line apart) gives torch's values and gradients, and the composite's."""
    from tensorstein._kernels import rows as KR

    rng = np.random.default_rng(3)
    shape = (600, 250)
    vals = ((rng.standard_normal(shape) * 3 + 1).astype(dt), rng.standard_normal(250).astype(dt),
            rng.standard_normal(250).astype(dt))
    gn = rng.standard_normal(shape).astype(dt)
    split = []
    real = KR.norm_backward_rows
    monkeypatch.setattr(KR, "norm_backward_rows", lambda *a: split.append(1) or real(*a))
    old = ts.get_num_threads()
    ts.set_num_threads(2)
    try:
        A_ = [ts.tensor(v, requires_grad=True) for v in vals]
        B_ = [torch.tensor(v, requires_grad=True) for v in vals]
        C_ = [ts.tensor(v, requires_grad=True) for v in vals]
        ya, yb, yc = F.layer_norm(A_[0], (250,), *A_[1:]), TF.layer_norm(B_[0], (250,), *B_[1:]), \
            FN._layer_norm_composite(C_[0], (250,), *C_[1:])
        for y, gg in ((ya, ts.tensor(gn)), (yb, torch.tensor(gn)), (yc, ts.tensor(gn))):
            y.backward(gg)
    finally:
        ts.set_num_threads(old)
    assert split == [1]
    tol = 10 * TOL[dt]
    _close(ya.detach().numpy(), yb.detach().numpy(), tol)
    _close(ya.detach().numpy(), yc.detach().numpy(), tol)
    for p, q, c in zip(A_, B_, C_):
        _close(p.grad.numpy(), q.grad.numpy(), 30 * TOL[dt])  # dweight / dbias: sums over 600 rows
        _close(p.grad.numpy(), c.grad.numpy(), 30 * TOL[dt])


def test_layer_norm_double_backward_noncontiguous_half():
    rng = np.random.default_rng(10)
    a, b = _pair(rng.standard_normal((3, 8)))
    gn = rng.standard_normal((3, 8))
    ga, = ts.autograd.grad(F.layer_norm(a, (8,)), a, ts.tensor(gn), create_graph=True)
    gb, = torch.autograd.grad(TF.layer_norm(b, (8,)), b, torch.tensor(gn), create_graph=True)
    (ga * ga).sum().backward()
    (gb * gb).sum().backward()
    _close(a.grad.numpy(), b.grad.numpy(), 1e-10)
    xn = rng.standard_normal((8, 6)).astype(np.float32)
    _close(F.layer_norm(ts.tensor(xn).t(), (8,)).numpy(), TF.layer_norm(torch.tensor(xn).t(), (8,)).numpy(), 3e-6)
    w = rng.standard_normal(16).astype(np.float32)
    xn = rng.standard_normal((4, 16)).astype(np.float32)
    for dt in ("float16", "bfloat16"):
        ya = F.layer_norm(ts.tensor(xn).to(getattr(ts, dt)), (16,), ts.tensor(w).to(getattr(ts, dt)))
        yb = TF.layer_norm(torch.tensor(xn).to(getattr(torch, dt)), (16,), torch.tensor(w).to(getattr(torch, dt)))
        assert ya.dtype.name == dt
        np.testing.assert_allclose(ya.float().numpy(), yb.float().numpy(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_kernel(ignore, smoothing, reduction, dt):
    rng = np.random.default_rng(11)
    n, c = (7, 5) if not ignore else (9, 300)
    xn = (rng.standard_normal((n, c)) * 2).astype(dt)
    t = rng.integers(0, c, n)
    if ignore:
        t[[1, 4]] = -100
    gn = np.asarray(rng.standard_normal(() if reduction != "none" else (n,))).astype(dt)
    a, b = _pair(xn)
    c_ = ts.tensor(xn, requires_grad=True)
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    la, lb = F.cross_entropy(a, ts.tensor(t), **kw), TF.cross_entropy(b, torch.tensor(t), **kw)
    lc = FL._cross_entropy_composite(c_, ts.tensor(t), None, -100, reduction, smoothing)
    la.backward(ts.tensor(gn))
    lb.backward(torch.tensor(gn))
    lc.backward(ts.tensor(gn))
    assert la.shape == tuple(lb.shape) and la.dtype.name == dt
    for got, ref in ((la.detach().numpy(), lb.detach().numpy()), (la.detach().numpy(), lc.detach().numpy()),
                     (a.grad.numpy(), b.grad.numpy()), (a.grad.numpy(), c_.grad.numpy())):
        _close(got, ref, TOL[dt])
    a, b = _pair(xn)
    ga, = ts.autograd.grad(F.cross_entropy(a, ts.tensor(t), **kw), a, ts.tensor(gn), create_graph=True)
    gb, = torch.autograd.grad(TF.cross_entropy(b, torch.tensor(t), **kw), b, torch.tensor(gn), create_graph=True)
    (ga * ga).sum().backward()
    (gb * gb).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_cross_entropy_kernel_errors():
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        F.cross_entropy(ts.randn(3, 4), ts.tensor([0, 1, 7]))


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_reductions_on_kernels(dt):
    rng = np.random.default_rng(12)
    tol = 2e-5 if dt == "float32" else 1e-12
    for shape in ((), (5,), (300, 250), (40, 30, 20), (0, 5)):
        xn = np.asarray(rng.standard_normal(shape)).astype(dt)
        a, b = ts.tensor(xn), torch.tensor(xn)
        for d in [None] + list(range(len(shape))):
            for kd in (False, True):
                for name in ("sum", "mean", "amax", "var", "std"):
                    if name == "amax" and (xn.size == 0 or (d is None and kd)):
                        continue
                    if d is None and len(shape) > 0 and (name in ("var", "std")) and xn.size < 2:
                        continue
                    args, kw = ((), {}) if d is None else ((d,), {"keepdim": kd})
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # degrees of freedom <= 0, as torch warns
                        ra, rb = getattr(a, name)(*args, **kw), getattr(b, name)(*args, **kw)
                    assert ra.shape == tuple(rb.shape), (name, shape, d, kd)
                    np.testing.assert_allclose(ra.numpy(), rb.numpy(), rtol=tol, atol=tol)
    xn = rng.standard_normal((300, 250)).astype(dt)
    xn[3, 7] = np.nan
    assert np.array_equal(np.isnan(ts.tensor(xn).amax(-1).numpy()), np.isnan(torch.tensor(xn).amax(-1).numpy()))
    xn = rng.standard_normal((100, 100)).astype(dt)
    for name in ("sum", "mean", "amax", "var", "std"):
        a, b = _pair(xn)
        getattr(a, name)(1).sum().backward()
        getattr(b, name)(1).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-6)



@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("eps", [None, 1e-5])
def test_rms_norm_kernel(eps, affine, dt):
    rng = np.random.default_rng(13)
    tol = 10 * TOL[dt]
    for shape, ns in (((4, 6, 33), (33,)), ((3, 5, 4, 7), (4, 7)), ((0, 5), (5,))):
        xn, gn = rng.standard_normal(shape).astype(dt), rng.standard_normal(shape).astype(dt)
        wn = rng.standard_normal(ns).astype(dt)
        (a, b), (wa, wb) = _pair(xn), _pair(wn)
        c, wc = ts.tensor(xn, requires_grad=True), ts.tensor(wn, requires_grad=True)
        ya, yb = F.rms_norm(a, ns, wa if affine else None, eps), TF.rms_norm(b, ns, wb if affine else None, eps)
        yc = FN._rms_norm_composite(c, ns, wc if affine else None, eps if eps is not None else
                                    float(np.finfo(dt).eps))
        ya.backward(ts.tensor(gn))
        yb.backward(torch.tensor(gn))
        yc.backward(ts.tensor(gn))
        assert type(ya.grad_fn).__name__ == type(yb.grad_fn).__name__
        _close(ya.detach().numpy(), yb.detach().numpy(), tol)
        _close(ya.detach().numpy(), yc.detach().numpy(), tol)
        _close(a.grad.numpy(), b.grad.numpy(), tol)
        _close(a.grad.numpy(), c.grad.numpy(), tol)
        if affine:
            _close(wa.grad.numpy(), wb.grad.numpy(), tol)
    a, b = _pair(rng.standard_normal((3, 8)))
    gn = rng.standard_normal((3, 8))
    ga, = ts.autograd.grad(F.rms_norm(a, (8,)), a, ts.tensor(gn), create_graph=True)
    gb, = torch.autograd.grad(TF.rms_norm(b, (8,)), b, torch.tensor(gn), create_graph=True)
    (ga * ga).sum().backward()
    (gb * gb).sum().backward()
    _close(a.grad.numpy(), b.grad.numpy(), 1e-10)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_vector_norm_on_kernel(dt):
    rng = np.random.default_rng(14)
    for shape in ((300, 250), (5,), (40, 30, 20), ()):
        xn = np.asarray(rng.standard_normal(shape)).astype(dt)
        for d in [None] + list(range(len(shape))):
            for kd in (False, True):
                for p in (2, 1, float("inf"), 3):
                    a, b = _pair(xn)
                    ra, rb = ts.linalg.vector_norm(a, p, d, kd), torch.linalg.vector_norm(b, p, d, kd)
                    assert ra.shape == tuple(rb.shape)
                    np.testing.assert_allclose(ra.detach().numpy(), rb.detach().numpy(), rtol=2e-5)
                    ra.sum().backward()
                    rb.sum().backward()
                    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-6)
