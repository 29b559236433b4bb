"""The small-call paths (compiled Numba entry points, no pool, no dispatch) of the element-wise, activation,
normalisation and reduction ops: bit for bit the kernels' public wrappers (the general path), and against
torch (values, indices, gradients with a random upstream gradient), on float32/float64, strided, 0-d, NaN,
ties and signed zeros."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tensorstein as ts  # noqa: E402
from tensorstein._kernels.lazy import kernels  # noqa: E402
from tensorstein.nn import functional as F  # noqa: E402

TF = torch.nn.functional
DTYPES = [np.float32, np.float64]


def _data(shape, dtype, seed=0, nan=True):
    x = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)
    if nan and x.size > 3:
        x.reshape(-1)[[1, -2]] = [np.nan, -0.0]
    return x


def _inputs(dtype):
    """Contiguous, strided (a uniform-stride 1-D view and a 2-D one), transposed and 0-d inputs."""
    x = _data((6, 40), dtype)
    return [x, x[:, ::2], x[::2], x.T, x[1, 3:4].reshape(()), x[:, ::-3]]


ACTS = [("silu", {}), ("mish", {}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("softplus", {}),
        ("softplus", {"beta": 2.0, "threshold": 3.0}), ("elu", {"alpha": 0.7}), ("selu", {}), ("celu", {"alpha": 1.5}),
        ("leaky_relu", {"negative_slope": 0.1}), ("hardtanh", {"min_val": -0.3, "max_val": 1.7}), ("relu6", {}),
        ("hardsigmoid", {}), ("hardswish", {})]
KERNEL = {"relu6": ("hardtanh", {"min_val": 0.0, "max_val": 6.0})}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kw", ACTS)
def test_activation_small_path_is_the_kernel(name, kw, dtype):
    kname, kkw = KERNEL.get(name, (name, kw))
    for x in _inputs(dtype):
        got = getattr(F, name)(ts.tensor(x) if x.ndim == 0 else ts.from_numpy(x), **kw)
        want = getattr(kernels("activations"), kname)(np.ascontiguousarray(x), **kkw)  # the general path
        assert got.dtype == ts.float32 if dtype == np.float32 else ts.float64
        np.testing.assert_array_equal(got.numpy(), want)
        ref = getattr(TF, name)(torch.from_numpy(np.array(x)), **kw).numpy()
        np.testing.assert_allclose(got.numpy(), ref, rtol=3e-6 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "erf", "exp"])
def test_unary_small_path(name, dtype):
    for x in _inputs(dtype):
        got = getattr(ts, name)(ts.from_numpy(x) if x.ndim else ts.tensor(x))
        ref = getattr(torch, name)(torch.from_numpy(np.array(x))).numpy()
        assert got.shape == ref.shape
        np.testing.assert_allclose(got.numpy(), ref, rtol=3e-6 if dtype == np.float32 else 1e-12, atol=1e-7)
        if name == "relu":  # exact, NaN kept, -0.0 -> 0
            np.testing.assert_array_equal(got.numpy(), ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("e", [2.0, 3.0, 0.5, -1.0, -2.0, -0.5, 4.0, 2.5, 1.0, 0.0, 2])
def test_pow_small_path(e, dtype):
    for x in _inputs(dtype):
        got = ts.pow(ts.from_numpy(x) if x.ndim else ts.tensor(x), e)
        ref = torch.pow(torch.from_numpy(np.array(x)), e).numpy()
        np.testing.assert_allclose(got.numpy(), ref, rtol=2e-6 if dtype == np.float32 else 1e-13, atol=0)
    x = _data((4, 250), dtype, nan=False)
    g = _data((4, 250), dtype, seed=1, nan=False)
    a, t = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ts.pow(a, e).backward(ts.tensor(g))
    torch.pow(t, e).backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=2e-6 if dtype == np.float32 else 1e-12,
                               atol=1e-6)


def _check_grad(fn_ts, fn_torch, x, rtol, seed=1):
    a, t = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = fn_ts(a), fn_torch(t)
    g = _data(tuple(yt.shape), x.dtype, seed=seed, nan=False)
    ya.backward(ts.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=rtol, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["sum", "mean", "norm"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (-1, False), (-1, True), (1, False)])
def test_sum_mean_norm_small(op, dim, keepdim, dtype):
    rtol = 3e-6 if dtype == np.float32 else 1e-12
    kw = {} if dim is None and not keepdim else {"dim": dim, "keepdim": keepdim}

    def f(lib):
        if op == "norm":
            return lambda t: lib.linalg.vector_norm(t, **kw)
        return lambda t: getattr(t, op)(**kw) if kw else getattr(t, op)()

    for x in [_data((5, 7, 30), dtype, nan=False), _data((5, 7, 30), dtype, nan=False)[:, ::2]]:
        got, want = f(ts)(ts.from_numpy(x)), f(torch)(torch.from_numpy(np.array(x)))
        assert tuple(got.shape) == tuple(want.shape) and got.dtype == (ts.float32 if dtype == np.float32
                                                                        else ts.float64)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol, atol=rtol)
        _check_grad(f(ts), f(torch), np.ascontiguousarray(x), rtol)


def test_norm_backward_zero():
    _check_grad(lambda t: ts.linalg.vector_norm(t, dim=-1), lambda t: torch.linalg.vector_norm(t, dim=-1),
                np.array([[0.0, 0.0, 0.0], [1.0, 2.0, -2.0]], np.float32), 1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_backward(op, dtype):
    rtol = 3e-5 if dtype == np.float32 else 1e-11
    x = _data((6, 50), dtype, nan=False)
    x[2] = 1.5  # a constant row: std 0, torch's gradient 0 there
    for kw in ({"dim": -1}, {"dim": 0, "keepdim": True}, {}, {"dim": -1, "correction": 0}):
        _check_grad(lambda t, kw=kw: getattr(t, op)(**kw), lambda t, kw=kw: getattr(t, op)(**kw), x, rtol)
    _check_grad(lambda t: t.var(0, correction=2), lambda t: t.var(0, correction=2), x[:1], rtol)  # dof < 0


def _extreme_data(dtype, c):
    x = np.round(_data((9, c), dtype, nan=False))  # many ties
    x[1, min(5, c - 1)] = np.nan
    x[2, [min(3, c - 1), c - 1]] = np.nan
    x[3] = -0.0
    x[3, c // 2] = 0.0
    x[4] = np.inf
    x[5] = -np.inf
    x[6, -1] = 50.0  # the extreme in the last block
    x[7, 0] = -50.0
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [1, 7, 64, 65, 250, 300])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_dim_torch_semantics(name, c, dtype):
    x = _extreme_data(dtype, c)
    for keepdim in (False, True):
        got = getattr(ts, name)(ts.from_numpy(x), -1, keepdim)
        want = getattr(torch, name)(torch.from_numpy(x), -1, keepdim)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(np.signbit(got.values.numpy()), np.signbit(want.values.numpy()))
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    _check_grad(lambda t: getattr(t, name)(-1)[0], lambda t: getattr(t, name)(-1)[0], x, 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [1, 7, 250])
@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_even_split(name, c, dtype):
    x = _extreme_data(dtype, c)
    for kw in ({"dim": -1}, {"dim": -1, "keepdim": True}, {"dim": (1,)}, {}):
        got = getattr(ts, name)(ts.from_numpy(x), **kw)
        want = getattr(torch, name)(torch.from_numpy(x), **kw)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        _check_grad(lambda t, kw=kw: getattr(t, name)(**kw), lambda t, kw=kw: getattr(t, name)(**kw), x, 1e-6)
    got = getattr(ts, name)(ts.from_numpy(x[:, ::2]), -1)  # strided rows
    np.testing.assert_array_equal(got.numpy(), getattr(torch, name)(torch.from_numpy(x[:, ::2]), -1).numpy())


@pytest.mark.parametrize("name", ["amax", "amin", "max", "min"])
def test_nan_result_gradient(name):
    """torch: amax/amin give a NaN result's row NaN gradients ((g / 0) * mask); max()/min() send it to the NaNs."""
    x = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 2.0, 1.0, 0.0]], np.float32)
    _check_grad(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x, 1e-6)
    if name.startswith("a"):
        _check_grad(lambda t: getattr(t, name)(-1), lambda t: getattr(t, name)(-1), x, 1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
def test_layer_norm_small(affine, dtype):
    rtol = 2e-5 if dtype == np.float32 else 1e-11
    x = _data((3, 5, 40), dtype, nan=False)
    w = _data((40,), dtype, seed=2, nan=False) if affine[0] else None
    b = _data((40,), dtype, seed=3, nan=False) if affine[1] else None
    wt, bt = (None if v is None else torch.tensor(v, requires_grad=True) for v in (w, b))
    wa, ba = (None if v is None else ts.tensor(v, requires_grad=True) for v in (w, b))
    for ns in (40, (40,), [40]):
        np.testing.assert_allclose(F.layer_norm(ts.from_numpy(x[:, ::2]), ns, wa, ba).detach().numpy(),
                                   TF.layer_norm(torch.from_numpy(x[:, ::2].copy()), (40,), wt, bt).detach().numpy(),
                                   rtol=rtol, atol=rtol)
    a, t = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g = _data(x.shape, dtype, seed=4, nan=False)
    F.layer_norm(a, (40,), wa, ba).backward(ts.tensor(g))
    TF.layer_norm(t, (40,), wt, bt).backward(torch.tensor(g))
    for p, q in ((a, t), (wa, wt), (ba, bt)):
        if p is not None:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol * 10, atol=rtol * 10)


def test_layer_norm_small_errors_unchanged():
    x = ts.randn(2, 4)
    with pytest.raises(RuntimeError, match="Given normalized_shape=\\[5\\]"):
        F.layer_norm(x, 5)
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape"):
        F.layer_norm(x, 4, ts.ones(3))
    with pytest.raises(RuntimeError, match="expected scalar type|mixed dtype"):
        F.layer_norm(x, 4, ts.ones(4, dtype=ts.float64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_small(name, dtype):
    rtol = 3e-6 if dtype == np.float32 else 1e-12
    x = _data((3, 4, 30), dtype, nan=False)
    for v in (x, x[:, ::2], x[0, 0]):
        got = getattr(F, name)(ts.from_numpy(v), -1)
        want = getattr(TF, name)(torch.from_numpy(v.copy()), -1)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol, atol=rtol)
    _check_grad(lambda t: getattr(F, name)(t, -1), lambda t: getattr(TF, name)(t, -1), x, rtol * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_small(reduction, smoothing, dtype):
    rtol = 3e-6 if dtype == np.float32 else 1e-12
    x = _data((6, 11), dtype, nan=False)
    tgt = np.array([1, 0, 10, -100, 3, 3])
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    got = F.cross_entropy(ts.from_numpy(x), ts.from_numpy(tgt), **kw)
    want = TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(tgt), **kw)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol, atol=rtol)
    _check_grad(lambda t: F.cross_entropy(t, ts.from_numpy(tgt), **kw),
                lambda t: TF.cross_entropy(t, torch.from_numpy(tgt), **kw), x, rtol * 10)
    all_ignored = F.cross_entropy(ts.from_numpy(x[:1]), ts.tensor([-100]), **kw)
    np.testing.assert_allclose(all_ignored.numpy(), TF.cross_entropy(torch.from_numpy(x[:1]), torch.tensor([-100]),
                                                                      **kw).numpy(), equal_nan=True)


def test_cross_entropy_small_bad_target_error():
    with pytest.raises(IndexError, match="Target 11 is out of bounds."):
        F.cross_entropy(ts.randn(3, 11), ts.tensor([1, 11, -3]))


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_extremes_large_over_the_pool(name):
    x = np.round(_data((3000, 40), np.float32, nan=False))
    x[5, 3] = np.nan
    x[7] = 1.0
    prev = ts.get_num_threads()
    try:
        for threads in (1, 2):
            ts.set_num_threads(threads)
            got = getattr(ts.from_numpy(x), name)(-1)
            want = getattr(torch.from_numpy(x), name)(-1)
            if name in ("max", "min"):
                np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
                got, want = got.values, want.values
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    finally:
        ts.set_num_threads(prev)
