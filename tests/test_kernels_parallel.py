"""The package thread pool: every index once, exceptions, nesting, chunking, thread settings."""

import os
import subprocess
import sys
import threading
import time

import pytest

from tensorstein._kernels import parallel as P


@pytest.fixture
def width():
    old = P.get_num_threads()
    P.set_num_threads(4)  # wider than the 2-core box: still correct, just oversubscribed
    yield 4
    P.set_num_threads(old)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 100, 1000])
def test_every_index_runs_once(width, n):
    hits = [0] * n
    lock = threading.Lock()

    def fn(i):
        with lock:
            hits[i] += 1

    P.parallel_for(fn, n)
    assert hits == [1] * n


def test_uses_worker_threads(width):
    names = set()

    def fn(i):
        time.sleep(0.005)  # releases the GIL: the workers get to pull tasks
        names.add(threading.current_thread().name)

    P.parallel_for(fn, 40)
    assert threading.current_thread().name in names or len(names) > 1
    assert any(n.startswith("tensorstein-") for n in names)
    assert len(names) <= width


def test_first_exception_propagates_and_pool_survives(width):
    started = []

    def fn(i):
        started.append(i)
        if i == 3:
            raise KeyError("task 3")
        time.sleep(0.001)

    with pytest.raises(KeyError, match="task 3"):
        P.parallel_for(fn, 200)
    assert 3 in started and len(started) < 200  # tasks not started yet were skipped
    out = []
    P.parallel_for(out.append, 50)  # the pool still works afterwards
    assert sorted(out) == list(range(50))


def test_exception_in_worker_waits_for_running_tasks(width):
    finished = []

    def fn(i):
        if i == 0:
            time.sleep(0.05)  # the caller's task is still running when a worker fails
            finished.append(i)
        else:
            raise ValueError(f"bad {i}")

    with pytest.raises(ValueError, match="bad"):
        P.parallel_for(fn, 4)
    assert finished == [0]


def test_nested_calls_run_inline(width):
    bad = []

    def outer(i):
        me = threading.get_ident()
        time.sleep(0.001)  # let the workers join the outer loop
        ran, spans = [], []
        P.parallel_for(lambda j: ran.append((j, threading.get_ident())), 5)
        P.parallel_chunks(lambda a, b: spans.append((a, b, threading.get_ident())), 10, 1)
        ok = sorted(j for j, _ in ran) == list(range(5))
        ok &= sorted(i for a, b, _ in spans for i in range(a, b)) == list(range(10))
        ok &= all(t == me for _, t in ran) and all(t == me for _, _, t in spans)
        if not ok:
            bad.append(i)

    P.parallel_for(outer, 8)
    assert bad == []


def test_concurrent_callers_do_not_deadlock(width):
    results = []

    def caller(k):
        out = []
        P.parallel_for(lambda i: out.append(i), 100)
        results.append((k, sorted(out)))

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(k for k, _ in results) == [0, 1, 2, 3]
    assert all(out == list(range(100)) for _, out in results)


@pytest.mark.parametrize("n,min_chunk", [(0, 1), (1, 1), (10, 3), (10, 100), (1001, 7), (64, 16)])
def test_chunks_cover_range(width, n, min_chunk):
    seen = []
    P.parallel_chunks(lambda a, b: seen.append((a, b)), n, min_chunk)
    seen.sort()
    assert [i for a, b in seen for i in range(a, b)] == list(range(n))
    assert len(seen) <= width
    if len(seen) > 1:
        sizes = [b - a for a, b in seen]
        assert min(sizes) >= min_chunk and max(sizes) - min(sizes) <= 1


def test_single_thread_runs_inline():
    old = P.get_num_threads()
    P.set_num_threads(1)
    try:
        seen = set()
        P.parallel_for(lambda i: seen.add(threading.get_ident()), 20)
        assert seen == {threading.get_ident()}
    finally:
        P.set_num_threads(old)


def test_set_num_threads_sets_blas_and_validates():
    from threadpoolctl import threadpool_info

    old = P.get_num_threads()
    try:
        P.set_num_threads(1)
        assert P.get_num_threads() == 1
        blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        assert blas and all(b == 1 for b in blas)
    finally:
        P.set_num_threads(old)
    for bad, msg in [(0, "positive integer"), (-2, "positive integer"), (2.5, "got float"),
                     ("2", "got str")]:
        with pytest.raises(RuntimeError, match=msg):
            P.set_num_threads(bad)
    assert P.get_num_threads() == old


def test_default_width_from_environment():
    code = "from tensorstein._kernels import parallel as P; print(P.get_num_threads())"
    env = dict(os.environ, TENSORSTEIN_NUM_THREADS="3")
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "3", out.stderr
    env.pop("TENSORSTEIN_NUM_THREADS")
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert out.stdout.strip() == str(len(os.sched_getaffinity(0))), out.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_pool_works_after_fork(width):
    P.parallel_for(lambda i: None, 8)  # workers exist in the parent
    pid = os.fork()
    if pid == 0:  # child: a fresh pool
        try:
            out = []
            P.parallel_for(lambda i: (time.sleep(0.001), out.append(i)), 16)
            os._exit(0 if sorted(out) == list(range(16)) else 1)
        except BaseException:  # noqa: BLE001 - the child must never return to pytest
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
