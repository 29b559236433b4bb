"""Grad mode is per thread, as in torch: a no_grad block or a backward pass in one thread never switches
recording off in another."""
from __future__ import annotations

import threading

import tensorstein as ts


def _run(*targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_no_grad_in_one_thread_while_another_trains():
    inside, done = threading.Barrier(2, timeout=10), threading.Barrier(2, timeout=10)
    seen = {}

    def evaluator():
        with ts.no_grad():
            inside.wait()  # the trainer runs its step while this thread is inside no_grad
            seen["eval"] = (ts.tensor([1.0], requires_grad=True) * 2).requires_grad
            done.wait()

    def trainer():
        w = ts.tensor([1.0, 2.0], requires_grad=True)
        inside.wait()
        loss = (w * w).sum()
        seen["train"] = loss.grad_fn is not None
        loss.backward()
        seen["grad"] = w.grad.tolist()
        done.wait()

    _run(evaluator, trainer)
    assert seen == {"eval": False, "train": True, "grad": [2.0, 4.0]}


def test_two_threads_using_no_grad_do_not_leave_it_off():
    a_in, b_in, a_out = (threading.Barrier(2, timeout=10) for _ in range(3))

    def a():
        with ts.no_grad():
            a_in.wait()
            b_in.wait()
        a_out.wait()  # A leaves first, B still inside: a process-wide flag would end up off

    def b():
        a_in.wait()
        with ts.no_grad():
            b_in.wait()
            a_out.wait()

    _run(a, b)
    assert ts.is_grad_enabled()
    seen = []
    _run(lambda: seen.append(ts.is_grad_enabled()))
    assert seen == [True]


def test_backward_does_not_switch_grad_mode_off_for_other_threads():
    in_backward, checked = threading.Barrier(2, timeout=10), threading.Barrier(2, timeout=10)
    seen = {}

    def hook(g):
        seen["inside_backward"] = ts.is_grad_enabled()  # off inside this thread's backward (no create_graph)
        in_backward.wait()
        checked.wait()
        return g

    def trainer():
        x = ts.tensor([3.0], requires_grad=True)
        y = x * x
        y.register_hook(hook)
        y.sum().backward()
        seen["grad"] = x.grad.tolist()

    def other():
        in_backward.wait()
        seen["other"] = ts.is_grad_enabled() and (ts.tensor([1.0], requires_grad=True) * 2).requires_grad
        checked.wait()

    _run(trainer, other)
    assert seen == {"inside_backward": False, "other": True, "grad": [6.0]}


def test_set_grad_enabled_is_per_thread():
    seen = []

    def worker():
        ts.set_grad_enabled(False)
        seen.append(ts.is_grad_enabled())

    _run(worker)
    assert seen == [False] and ts.is_grad_enabled()
