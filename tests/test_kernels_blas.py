"""Matrix products on the native team (_kernels/blas.py, _kernels/gemm.py) against np.matmul."""
from __future__ import annotations

import ctypes
import os
import threading

import numpy as np
import pytest
from _python import python_output

from tensorstein._kernels import blas, native_parallel, parallel

TEAM = native_parallel.owns_blas()
needs_team = pytest.mark.skipif(not TEAM, reason="NumPy's BLAS is not an OpenBLAS the team can call")


@pytest.fixture(autouse=True)
def _two_threads():
    old = parallel.get_num_threads()
    parallel.set_num_threads(2)
    yield
    parallel.set_num_threads(old)


def _close(got, want):
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = np.abs(want).max() if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=0, atol=8 * np.finfo(want.dtype).eps * scale)


def _rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


PAIRS = [  # (a, b) builders from rng and dtype: every layout BLAS reads in place, and batches
    ("NN", lambda r, d: (_rand(r, (300, 70), d), _rand(r, (70, 200), d))),
    ("wide", lambda r, d: (_rand(r, (40, 300), d), _rand(r, (300, 500), d))),
    ("NT", lambda r, d: (_rand(r, (256, 64), d), _rand(r, (192, 64), d).T)),
    ("TN", lambda r, d: (_rand(r, (512, 128), d).T, _rand(r, (512, 96), d))),
    ("TT", lambda r, d: (_rand(r, (90, 300), d).T, _rand(r, (250, 90), d).T)),
    ("sliced", lambda r, d: (_rand(r, (300, 100), d)[:, 10:80], _rand(r, (90, 400), d)[5:75, ::1][:, 50:350])),
    ("odd rows", lambda r, d: (_rand(r, (257, 129), d), _rand(r, (129, 67), d))),
    ("batched", lambda r, d: (_rand(r, (8, 64, 48), d), _rand(r, (8, 48, 64), d))),
    ("batched 4-D NT", lambda r, d: (_rand(r, (2, 4, 64, 16), d), _rand(r, (2, 4, 64, 16), d).swapaxes(-1, -2))),
    ("batch 3-D @ 2-D", lambda r, d: (_rand(r, (6, 100, 64), d), _rand(r, (64, 80), d))),
    ("batch 2-D @ 3-D", lambda r, d: (_rand(r, (100, 64), d), _rand(r, (3, 64, 120), d))),
    ("batch broadcast", lambda r, d: (_rand(r, (3, 1, 50, 40), d), _rand(r, (1, 4, 40, 60), d))),
    ("one batch", lambda r, d: (_rand(r, (1, 400, 64), d), _rand(r, (1, 64, 300), d))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,make", PAIRS, ids=[p[0] for p in PAIRS])
def test_matches_numpy(name, make, dtype):
    a, b = make(np.random.default_rng(0), dtype)
    _close(blas.matmul(a, b), np.matmul(a, b))


@needs_team
def test_large_products_run_on_the_team(monkeypatch):
    calls = []
    real = native_parallel.launch_rows
    monkeypatch.setattr(native_parallel, "launch_rows", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    rng = np.random.default_rng(1)
    a, b = _rand(rng, (256, 128), np.float32), _rand(rng, (128, 128), np.float32)
    _close(blas.matmul(a, b), np.matmul(a, b))
    assert len(calls) == 1
    small = _rand(rng, (8, 8), np.float32)
    blas.matmul(small, small)  # under MIN_WORK: one plain call
    assert len(calls) == 1


@needs_team
def test_out_and_fallbacks():
    rng = np.random.default_rng(2)
    a, b = _rand(rng, (200, 150), np.float32), _rand(rng, (150, 120), np.float32)
    out = np.full((200, 120), np.nan, np.float32)
    assert blas.matmul(a, b, out=out) is out
    _close(out, a @ b)
    # layouts and dtypes BLAS cannot take in place go to np.matmul, with its results and errors
    for x, y in ((a[::-1], b), (a[:, ::2], b[::2]), (a.astype(np.int64), b.astype(np.int64)),
                 (a, b.astype(np.float64)), (a[::2, ::2], b[::2])):
        np.testing.assert_array_equal(blas.matmul(x, y), np.matmul(x, y))
    with pytest.raises(ValueError, match="mismatch"):
        blas.matmul(a, a)
    fortran = np.asfortranarray(_rand(rng, (200, 150), np.float64))
    _close(blas.matmul(fortran, b.astype(np.float64)), fortran @ b.astype(np.float64))


@needs_team
def test_blas_runs_at_one_thread_once_the_team_has_it():
    from threadpoolctl import threadpool_info

    parallel.set_num_threads(2)
    numpy_blas = [i for i in threadpool_info() if i["internal_api"] == "openblas" and "numpy" in i["filepath"]]
    assert numpy_blas and all(i["num_threads"] == 1 for i in numpy_blas)


def test_team_blas_can_be_turned_off():
    code = ("import numpy as np\n"
            "from tensorstein._kernels import native_parallel, parallel\n"
            "from threadpoolctl import threadpool_info\n"
            "parallel.set_num_threads(2)\n"
            "print(native_parallel.owns_blas(), [i['num_threads'] for i in threadpool_info() "
            "if 'numpy' in i['filepath']])\n")
    assert python_output(code, TENSORSTEIN_TEAM_BLAS="0").split() == ["False", "[2]"]


@needs_team
def test_concurrent_callers():
    rng = np.random.default_rng(3)
    pairs = [(_rand(rng, (256, 96), np.float32), _rand(rng, (96, 160), np.float32)) for _ in range(4)]
    results = [None] * 4

    def work(i):
        for _ in range(20):
            results[i] = blas.matmul(*pairs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (a, b), got in zip(pairs, results):
        _close(got, a @ b)


@needs_team
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_multiplies_serially():
    rng = np.random.default_rng(4)
    a, b = _rand(rng, (256, 128), np.float32), _rand(rng, (128, 128), np.float32)
    blas.matmul(a, b)  # the team has started in the parent
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        ok = not native_parallel.owns_blas() and np.allclose(blas.matmul(a, b), a @ b, rtol=1e-5, atol=1e-4)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_lp64_entry_point():
    """The 32-bit-int call path, on a BLAS with 32-bit ints where one is loaded (SciPy's OpenBLAS)."""
    pytest.importorskip("scipy.linalg")
    from threadpoolctl import threadpool_info

    from tensorstein._kernels.gemm import gemm_blocks

    libs = [i["filepath"] for i in threadpool_info()
            if i["internal_api"] == "openblas" and "64_" not in os.path.basename(i["filepath"])]
    fn = None
    for path in libs:
        dll = ctypes.CDLL(path)
        for name in ("scipy_cblas_sgemm", "cblas_sgemm"):
            if hasattr(dll, name):
                fn = ctypes.cast(getattr(dll, name), ctypes.c_void_p).value
                break
    if fn is None:
        pytest.skip("no 32-bit-int OpenBLAS loaded")
    rng = np.random.default_rng(5)
    a, b = _rand(rng, (37, 19), np.float32), _rand(rng, (23, 19), np.float32)
    c = np.zeros((37, 23), np.float32)
    gemm_blocks(0, 37, np.float32(1), np.float32(0), fn, True, 1, 111, 112, 37, 23, 19, a.ctypes.data, 19,
                b.ctypes.data, 19, c.ctypes.data, 23, 1, 0, 0, 0, 4)
    _close(c, a @ b.T)


@needs_team
def test_huge_products_run_on_the_team_and_blas_stays_at_one_thread(monkeypatch):
    """A huge product runs as team blocks too: OpenBLAS's own threads, once used, spin for ~60 ms after it on the
    cores the team needs (every team launch after it then ran on one core), so BLAS stays at one thread."""
    from threadpoolctl import threadpool_info

    launched = []
    real = native_parallel.launch_rows
    monkeypatch.setattr(native_parallel, "launch_rows", lambda kernel, *a, **k: launched.append(kernel.__name__) or
                        real(kernel, *a, **k))
    rng = np.random.default_rng(6)
    a, b = _rand(rng, (1100, 1100), np.float32), _rand(rng, (1100, 1100), np.float32)  # 1.3e9 multiply-adds
    _close(blas.matmul(a, b), np.matmul(a, b))
    assert launched == ["gemm_blocks"]
    numpy_blas = [i for i in threadpool_info() if i["internal_api"] == "openblas" and "numpy" in i["filepath"]]
    assert all(i["num_threads"] == 1 for i in numpy_blas)
