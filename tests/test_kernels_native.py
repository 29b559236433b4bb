"""The native (OpenMP) team behind large element-wise, binary, row and reduction kernels:
results equal the serial kernels bit for bit, from many threads at once, and in forked children."""
from __future__ import annotations

import multiprocessing as mp
import os
import threading

import numpy as np
import pytest

import tensorstein as ts
from tensorstein._kernels import activations as A
from tensorstein._kernels import binary as B
from tensorstein._kernels import elementwise_engine as E
from tensorstein._kernels import native_parallel as NP
from tensorstein._kernels import reduce as K
from tensorstein._kernels import rows as R

SHAPE = (1204, 257)  # 309,428 elements: above every grain (REDUCE_MIN), rows and chunks of unequal sizes


@pytest.fixture
def two_threads(monkeypatch):
    """Two threads, and every op at or above PARALLEL_MIN offered to the team (not only warm or large ones)."""
    old = ts.get_num_threads()
    ts.set_num_threads(2)
    monkeypatch.setattr(E, "COLD_MIN", 0)
    yield
    ts.set_num_threads(old)


def _serial(monkeypatch):
    monkeypatch.setattr(E, "get_num_threads", lambda: 1)
    monkeypatch.setattr(B, "get_num_threads", lambda: 1)


def _data(dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(SHAPE).astype(dtype)


def _all_kernels(x, g):
    w = _data(x.dtype, 3)[0]
    y, mean, rstd = R.layer_norm_forward(x, (SHAPE[1],), w, w)
    return [A.gelu(x), A.silu_backward(g, x), A.hardtanh(x, -0.5, 0.5), R.softmax_forward(x),
            R.log_softmax_backward(g, R.log_softmax_forward(x)), y,
            *R.layer_norm_backward(g, x, mean, rstd, (SHAPE[1],), w, w)[:1], K.amax(x, -1), K.sum_(x, -1),
            np.asarray(K.sum_(x)), B.apply(np.add, x, g), B.apply(np.divide, x, g), B.apply(np.subtract, 2.5, x),
            B.apply(np.multiply, x, 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_native_team_equals_serial_bit_for_bit(dtype, two_threads, monkeypatch):
    x, g = _data(dtype), _data(dtype, 1)
    _all_kernels(x, g)  # the jobs made and compiled (the first call of each may take seconds on a loaded machine)
    ran = []
    for name in ("launch", "launch_rows", "launch_new"):
        real = getattr(NP, name)

        def spy(*a, real=real, **k):
            r = real(*a, **k)
            ran.append(r is not None and r is not False)  # launch_new: the output, or None
            return r
        monkeypatch.setattr(NP, name, spy)
    monkeypatch.setattr(E, "native_parallel", NP)
    par = _all_kernels(x, g)
    assert len(ran) >= 12 and all(ran)  # the team ran them
    _serial(monkeypatch)
    ser = _all_kernels(x, g)
    for i, (a, b) in enumerate(zip(par, ser)):
        assert a.dtype == b.dtype, i
        if i == 9:  # the full sum adds per-chunk partials: equal to rounding
            np.testing.assert_allclose(a, b, rtol=1e-6)
        else:
            np.testing.assert_array_equal(a, b, err_msg=str(i))


def test_binary_matches_numpy_dtype_and_value(two_threads):
    x, y = _data(), _data(seed=1)
    x64 = x.astype(np.float64)
    cases = [(np.add, x, y), (np.subtract, x, y), (np.multiply, x, y), (np.divide, x, y), (np.add, x, 2.5),
             (np.subtract, 7, x), (np.divide, 1.0, x), (np.multiply, x, np.float32(0.1)), (np.add, x, np.float64(0.1)),
             (np.multiply, x, 10 ** 30), (np.add, x, y[0]), (np.add, x, x64), (np.multiply, x64, x64),
             (np.maximum, x, y), (np.add, x[:, ::2], y[:, ::2]), (np.subtract, y[0], x), (np.divide, x, y[:1]),
             (np.divide, y[3], x), (np.multiply, x.reshape(28, 43, 257), y[:43]), (np.add, x, y[0, :1]),
             (np.add, x[None], y[0][None, None]), (np.add, y[0][None, None], x)]
    for ufunc, a, b in cases:
        want = ufunc(a, b)
        got = B.apply(ufunc, a, b)
        assert got.dtype == want.dtype and got.shape == want.shape, (ufunc, type(b))
        np.testing.assert_array_equal(got, want)


def test_public_ops_use_all_cores_and_match_one_thread(two_threads):
    x = ts.randn(*SHAPE, requires_grad=True)
    g = ts.randn(*SHAPE)

    def run():
        y = ts.nn.functional.gelu(x * 2.0 + x) / 3.0
        z = ts.nn.functional.layer_norm(y, (SHAPE[1],)).softmax(-1)
        x.grad = None
        z.backward(g)
        return z.detach().numpy().copy(), x.grad.numpy().copy()

    par = run()
    ts.set_num_threads(1)
    ser = run()
    for a, b in zip(par, ser):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)  # dweight-free path: only sum order differs


def test_concurrent_launches_from_many_threads(two_threads):
    x = _data()
    want = A.gelu(x)
    errors = []

    def work():
        for _ in range(20):
            if not np.array_equal(A.gelu(x), want):
                errors.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def _child_sum(_):
    x = ts.ones(*SHAPE)
    return float((ts.relu(x) * 2.0).sum())


def test_forked_child_after_the_team_started_runs_serially(two_threads):
    ts.relu(ts.randn(*SHAPE))  # the parent's team is running
    assert NP._state is True
    with mp.get_context("fork").Pool(2) as pool:
        assert pool.map(_child_sum, [0, 1]) == [2.0 * SHAPE[0] * SHAPE[1]] * 2


def test_pool_tasks_do_not_nest_teams(two_threads):
    from tensorstein._kernels.parallel import parallel_for

    x = _data().reshape(-1)
    out = np.empty_like(x)
    seen = []
    parallel_for(lambda i: seen.append(NP.launch(A._relu_k, 2, (x, out))), 2)
    assert seen == [False, False]
    assert NP.launch(A._relu_k, 2, (x, out)) and np.array_equal(out, np.maximum(x, 0))


def test_launch_new_fills_a_new_output_of_any_shape(two_threads):
    """One compiled call: inputs of any rank, the new output shaped like the first, refused inside pool tasks."""
    from tensorstein._kernels.parallel import parallel_for

    for shape in (SHAPE, (4, 301, 257), (SHAPE[0] * SHAPE[1],)):
        x = _data().reshape(shape)
        y = _data(seed=1).reshape(shape)
        out = NP.launch_new(B._add_k, 2, (x, y))
        assert out is not None and out.shape == shape and out.dtype == x.dtype and out.flags.c_contiguous
        np.testing.assert_array_equal(out, x + y)
        np.testing.assert_array_equal(NP.launch_new(A._relu_k, 2, (x,)), np.maximum(x, 0))
    got = NP.launch_new(B._mul_s, 2, (x,), (0.1, False))  # a Python float: rounded to x's dtype once
    np.testing.assert_array_equal(got, x * np.float32(0.1))
    seen = []
    parallel_for(lambda i: seen.append(NP.launch_new(A._relu_k, 2, (x,))), 2)
    assert seen == [None, None]


@pytest.mark.parametrize("threads", [1, 2])
def test_masked_fill_kernel_matches_numpy_where(threads):
    old = ts.get_num_threads()
    ts.set_num_threads(threads)
    try:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((8, 4, 64, 64)).astype(np.float32)
        causal = np.triu(np.ones((1, 1, 80, 80), bool), 1)[:, :, :64, :64]  # sliced: not contiguous
        for mask in (causal, rng.random((64, 64)) > 0.5, rng.random(x.shape) > 0.5, rng.random((1, 64)) > 0.5):
            for value in (-np.inf, 0.0, np.nan):
                got = B.masked_fill(x, mask, np.float32(value))
                np.testing.assert_array_equal(got, np.where(mask, np.float32(value), x))
                assert got.dtype == np.float32
        assert B.masked_fill(x, rng.random((8, 1, 64, 64)) > 0.5, 0.0) is None  # not a trailing-dims mask
        assert B.masked_fill(x.astype(np.float16), causal, 0.0) is None
    finally:
        ts.set_num_threads(old)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(512, 64), (2000, 40), (1030, 77), (3000, 3, 11), (513, 64, 3)])
def test_column_sums_on_the_team_equal_numpys_order(shape, dtype, two_threads):
    """A bias gradient (sum over the leading dim): split over columns, each added as NumPy does."""
    x = (np.random.default_rng(1).standard_normal(shape) * 10).astype(dtype)
    blk = x.reshape(1, shape[0], -1)
    for sq in (False, True):
        got = K._column_sum(x, 0, False, sq)
        assert got is not None and got.shape == shape[1:]
        np.testing.assert_array_equal(got.reshape(-1), K._blocked_sum(np.square(blk) if sq else blk).reshape(-1))
    np.testing.assert_array_equal(K.sum_(x, 0, keepdim=True), x.sum(0, keepdims=True) if shape[0] <= 1024 else
                                  K._blocked_sum(blk).reshape((1,) + shape[1:]))


def _chunk_counts(monkeypatch) -> list:
    """The chunk counts of the team's slice launches (``launch``, ``launch_new``) from now on."""
    counts: list = []
    for name in ("launch", "launch_new"):
        real = getattr(NP, name)
        monkeypatch.setattr(NP, name, lambda *a, real=real, **k: counts.append(a[1]) or real(*a, **k))
    return counts


def test_mid_size_ops_wake_the_team_only_in_a_stream(monkeypatch):
    """With BLAS on another pool: an isolated mid-size op runs serially (waking sleeping threads costs more
    than it saves); the second of two back-to-back ones launches; work of COLD_MIN elements launches
    regardless."""
    import time

    old = ts.get_num_threads()
    ts.set_num_threads(2)
    NP.owns_blas()  # started, then pretend BLAS kept its own threads
    monkeypatch.setattr(NP, "_owns_blas", False)
    launched = _chunk_counts(monkeypatch)
    try:
        x = _data()
        time.sleep(0.01)
        A.gelu(x)
        assert launched == []
        for _ in range(5):
            A.gelu(x)
        assert launched and set(launched) == {2}
        del launched[:]
        big = np.zeros(E.COLD_MIN, np.float32)
        time.sleep(0.01)
        np.testing.assert_array_equal(A.gelu(big), big)
        assert launched == [2]
    finally:
        ts.set_num_threads(old)


def test_a_team_that_runs_blas_takes_every_mid_size_op(monkeypatch):
    """No other pool competes for the cores: an isolated mid-size op launches at once; a Python callable,
    which runs on the Python pool, still waits for a stream."""
    import time

    old = ts.get_num_threads()
    ts.set_num_threads(2)
    NP.owns_blas()
    monkeypatch.setattr(NP, "_owns_blas", True)
    launched, chunked = _chunk_counts(monkeypatch), []
    real_chunks = E.parallel_chunks
    monkeypatch.setattr(E, "parallel_chunks", lambda *a, **k: chunked.append(a[1]) or real_chunks(*a, **k))
    try:
        x = _data()
        time.sleep(0.01)
        A.gelu(x)
        assert launched == [2]
        time.sleep(0.01)
        np.testing.assert_array_equal(E.map_unary(lambda a, o: np.negative(a, out=o), x), -x)
        assert chunked == []
    finally:
        ts.set_num_threads(old)


def test_spin_only_when_the_user_chose_no_wait_policy(monkeypatch):
    """GNU OpenMP reads GOMP_SPINCOUNT when it loads: set for that moment only, never over the user's choice."""
    for var in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(var, raising=False)
    with NP._spin(1234):
        assert os.environ["GOMP_SPINCOUNT"] == "1234"
    assert "GOMP_SPINCOUNT" not in os.environ  # not inherited by child processes
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")
    with NP._spin(1234):
        assert "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.setenv("GOMP_SPINCOUNT", "77")
    with NP._spin(1234):
        assert os.environ["GOMP_SPINCOUNT"] == "77"
