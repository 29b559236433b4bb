"""The native worker team (_kernels/team.py): every chunk once, sleep and wake, jobs made from kernels."""
from __future__ import annotations

import time

import numpy as np
import pytest
from _python import python_output

from tensorstein._kernels import native_parallel as NP
from tensorstein._kernels import parallel

team = pytest.importorskip("tensorstein._kernels.team")
numba = pytest.importorskip("numba")

if not team.start(2):
    pytest.skip("the team runs on Linux x86-64 only", allow_module_level=True)


@numba.cfunc(numba.types.void(numba.types.int64, numba.types.int64, numba.types.int64), nopython=True)
def _count(block, chunk, n_chunks):
    """Adds 1 to slot ``chunk`` and writes ``n_chunks`` to slot ``chunk + 8``."""
    slots = team.carray(team.voidptr(block), (16,), np.int64)
    slots[chunk] += 1
    slots[chunk + 8] = n_chunks


@pytest.mark.parametrize("n", [2, 8])  # 8: more chunks than threads, the caller claims the rest
def test_every_chunk_runs_once_per_launch(n):
    slots = np.zeros(16, np.int64)
    for _ in range(2000):
        team.launch(_count.address, slots.ctypes.data, n)
    np.testing.assert_array_equal(slots[:n], [2000] * n)
    np.testing.assert_array_equal(slots[8:8 + n], [n] * n)
    assert not slots[n:8].any()
    team.launch(_count.address, slots.ctypes.data, 1)  # the caller alone: workers run nothing
    np.testing.assert_array_equal(slots[:n], [2001] + [2000] * (n - 1))


@numba.cfunc(numba.types.void(numba.types.int64, numba.types.int64, numba.types.int64), nopython=True)
def _handshake(block, chunk, n_chunks):
    """Chunk 0 (the caller's) waits until another thread ran chunk 1: slot 0 counts the polls, -1 gave up."""
    if chunk == 1:
        team._store(block + 8, 1)
        return
    polls = 0
    while team._load(block + 8) == 0 and polls < 100_000_000:  # atomic loads: the wait is not optimised away
        polls += 1
    team._store(block, polls if team._load(block + 8) else -1)


def test_sleeping_workers_wake_and_claim_chunks():
    for _ in range(3):
        slots = np.zeros(2, np.int64)
        time.sleep(max(0.05, 20 * team.SPIN_S))  # past the spin: the workers sleep on the futex
        team.launch(_handshake.address, slots.ctypes.data, 2)
        assert slots[1] == 1 and slots[0] >= 0  # a worker woke and ran chunk 1 while the caller waited in 0


def test_kernels_run_on_the_team_as_serially():
    from tensorstein._kernels import activations as A
    from tensorstein._kernels import binary as B
    from tensorstein._kernels import rows as R

    old = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        x = np.random.default_rng(0).standard_normal((1204, 257)).astype(np.float32)
        assert NP.launch_rows(R._softmax_k, 2, 0, (x, np.empty_like(x)))  # the team takes launches
        assert NP._team is team
        got = [A.gelu(x), B.apply(np.add, x, x), R.softmax_forward(x)]
        parallel.set_num_threads(1)
        want = [A.gelu(x), np.add(x, x), R.softmax_forward(x)]
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    finally:
        parallel.set_num_threads(old)


def test_a_launch_with_another_argument_pattern_is_refused():
    """A job unpacks the argument pattern it was made for: another dtype, rank or layout is not run."""
    from tensorstein._kernels import binary as B

    old = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        a = np.ones(100_000, np.float32)
        assert NP.launch(B._add_k, 2, (a, a, np.empty_like(a)))
        strided = np.ones(200_000, np.float32)[::2]
        assert not NP.launch(B._add_k, 2, (strided, strided, np.empty_like(strided)))
    finally:
        parallel.set_num_threads(old)


def test_numba_layer_serves_when_the_team_is_turned_off():
    code = ("import numpy as np, tensorstein as ts\n"
            "from tensorstein._kernels import native_parallel as NP\n"
            "ts.set_num_threads(2)\n"
            "x = ts.randn(1204, 257)\n"
            "y = ts.nn.functional.gelu(x) + x\n"
            "ts.set_num_threads(1)\n"
            "print(NP._team is None, NP._state, bool((y == ts.nn.functional.gelu(x) + x).all()))\n")
    assert python_output(code, timeout=300, TENSORSTEIN_FAST_TEAM="0").split() == ["True", "True", "True"]


def test_interpreter_exits_with_workers_running():
    code = ("import tensorstein as ts\n"
            "ts.set_num_threads(2)\n"
            "x = ts.randn(1204, 257)\n"
            "print(float((ts.nn.functional.gelu(x) @ x.T).sum()) != 0)\n")
    t = time.perf_counter()
    assert python_output(code, timeout=300).strip() == "True" and time.perf_counter() - t < 120
