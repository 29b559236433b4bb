"""torch.profiler (profile / record_function / key_averages().table()), utils.checkpoint (recompute in
backward, same gradients and random draws) and Module full backward hooks, each against torch."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import torch.utils.checkpoint

import tensorstein as ts
from tensorstein.profiler import ProfilerActivity, profile, record_function
from tensorstein.utils.checkpoint import checkpoint, checkpoint_sequential

RNG = np.random.default_rng(5)


# ---------------------------------------------------------------- profiler
def _profiled_run(lib, record_shapes=True):
    m = lib.nn.Sequential(lib.nn.Linear(10, 20), lib.nn.ReLU(), lib.nn.Linear(20, 3))
    x = lib.randn(5, 10)
    acts = [lib.profiler.ProfilerActivity.CPU]
    with lib.profiler.profile(activities=acts, record_shapes=record_shapes) as prof, \
            lib.profiler.record_function("model_inference"):
        y = m(x)
        (y * 2 + 1).sum()
    return prof


def _table_lines(table):
    return [line for line in table.splitlines() if line]


def test_profile_table_has_torchs_layout_and_ops():
    tprof, sprof = _profiled_run(torch), _profiled_run(ts)
    tt = tprof.key_averages().table(sort_by="cpu_time_total", row_limit=5)
    st = sprof.key_averages().table(sort_by="cpu_time_total", row_limit=5)
    tl, sl = _table_lines(tt), _table_lines(st)
    assert len(sl) == len(tl) == 5 + 5  # separator, header, separator, rows, separator, total
    assert sl[1].split() == tl[1].split()  # same column headers
    assert re.fullmatch(r"Self CPU time total: [0-9.]+(us|ms|s)", sl[-1])
    assert sl[3].split()[0] == "model_inference" == tl[3].split()[0]  # the outer range has the largest total
    assert sl[3].split()[3] == "100.00%"
    widths = [len(x) for x in sl[0].split("  ") if x]
    assert widths[1:] == [12] * 6
    keys = {e.key for e in sprof.key_averages()}
    assert {"aten::linear", "aten::relu", "aten::mul", "aten::add", "aten::sum"} <= keys
    assert {e.key for e in tprof.key_averages()} >= {"aten::linear", "aten::relu", "aten::mul", "aten::sum"}


def test_profile_counts_times_and_shapes():
    prof = _profiled_run(ts)
    avg = {e.key: e for e in prof.key_averages()}
    assert avg["aten::linear"].count == 2 and avg["model_inference"].count == 1
    outer = avg["model_inference"]
    assert outer.cpu_time_total >= avg["aten::linear"].cpu_time_total > 0
    total_self = sum(e.self_cpu_time_total for e in prof.key_averages())
    np.testing.assert_allclose(total_self, outer.cpu_time_total, rtol=1e-6)  # self times partition the range
    by_shape = {(e.key, str(e.input_shapes)) for e in prof.key_averages(group_by_input_shape=True)}
    assert ("aten::linear", "[[5, 10], [20, 10], [20]]") in by_shape
    assert ("aten::linear", "[[5, 20], [3, 20], [3]]") in by_shape
    table = prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=3)
    assert "Input Shapes" in table.splitlines()[1]
    assert len(_table_lines(table)) == 3 + 5


def test_profile_restores_ops_and_records_nothing_outside():
    before = (ts.Tensor.__add__, ts.nn.functional.linear, ts.matmul)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        ts.ones(2) + 1
    assert (ts.Tensor.__add__, ts.nn.functional.linear, ts.matmul) == before
    n = len(prof.events())
    ts.ones(2) + 1
    with record_function("outside"):  # no active profile: a no-op
        pass
    assert len(prof.events()) == n
    with pytest.raises(RuntimeError), profile(), profile():
        pass


def test_record_function_as_decorator():
    @record_function("my_block")
    def block(x):
        return x.exp().sum()

    with profile() as prof:
        block(ts.ones(3))
        block(ts.ones(3))
    avg = {e.key: e for e in prof.key_averages()}
    assert avg["my_block"].count == 2 and avg["aten::exp"].count == 2


# ---------------------------------------------------------------- checkpoint
def _mlp(lib):
    n = lib.nn
    return n.Sequential(n.Linear(4, 8), n.Tanh(), n.Dropout(0.3), n.Linear(8, 3))


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpoint_same_values_and_gradients(use_reentrant):
    m = _mlp(ts)
    x0 = RNG.standard_normal((5, 4)).astype(np.float32)
    g = ts.tensor(RNG.standard_normal((5, 3)).astype(np.float32))
    results = []
    for ck in (False, True):
        x = ts.tensor(x0, requires_grad=True)
        m.zero_grad()
        ts.manual_seed(1)
        y = checkpoint(m, x, use_reentrant=use_reentrant) if ck else m(x)
        y.backward(g)
        results.append([y.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)  # dropout mask replayed: bit-identical


def test_checkpoint_against_torch_with_params_only_and_sequential():
    tm, sm = _mlp(torch).eval(), _mlp(ts).eval()
    sm.load_state_dict({k: ts.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    ty = torch.utils.checkpoint.checkpoint(tm, torch.tensor(x), use_reentrant=False)
    sy = checkpoint(sm, ts.tensor(x), use_reentrant=False)  # no input needs grad: parameters still get grads
    assert sy.requires_grad
    ty.sum().backward()
    sy.sum().backward()
    for a, b in zip(tm.parameters(), sm.parameters()):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-5, atol=1e-6)
    xs = ts.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    s_out = checkpoint_sequential(sm, 2, xs, use_reentrant=False)
    t_out = torch.utils.checkpoint.checkpoint_sequential(tm, 2, xt, use_reentrant=False)
    np.testing.assert_allclose(s_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    s_out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_checkpoint_multiple_outputs_and_warnings():
    a = ts.tensor(RNG.standard_normal(4), requires_grad=True)
    b = ts.tensor(RNG.standard_normal(4), requires_grad=True)
    s, p = checkpoint(lambda u, v: (u + v, (u * v).sin()), a, b, use_reentrant=False)
    (s.sum() + p.sum()).backward()
    ta, tb = torch.tensor(a.detach().numpy(), requires_grad=True), torch.tensor(b.detach().numpy(),
                                                                                requires_grad=True)
    ((ta + tb).sum() + (ta * tb).sin().sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-5)
    for lib, ck in ((torch, torch.utils.checkpoint.checkpoint), (ts, checkpoint)):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = ck(lambda u: u.exp(), lib.ones(2), use_reentrant=True)
        assert not out.requires_grad
        assert any("None of the inputs have requires_grad=True" in str(x.message) for x in w)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            ck(lambda u: u.exp(), lib.ones(2, requires_grad=True))
        assert any("use_reentrant parameter should be passed explicitly" in str(x.message) for x in w)


# ---------------------------------------------------------------- full backward hooks
def _hooked_run(lib):
    lin = lib.nn.Linear(3, 2)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 7))
        lin.bias.fill_(0.1)
    seen = []

    def hook(mod, grad_input, grad_output):
        seen.append(([None if g is None else g.numpy().copy() for g in grad_input],
                     [g.numpy().copy() for g in grad_output]))
        return (grad_input[0] * 2,) if grad_input[0] is not None else None

    handle = lin.register_full_backward_hook(hook)
    pre = lin.register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))
    x = lib.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), requires_grad=True)
    lin(x).pow(2).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lin(lib.ones(4, 3)).sum().backward()  # no input needs grad: grad_input is (None,)
    handle.remove()
    pre.remove()
    x2 = lib.ones(4, 3, requires_grad=True)
    lin(x2).sum().backward()
    return seen, x.grad.numpy(), x2.grad.numpy(), lin.weight.grad.numpy()


def test_full_backward_hooks_match_torch():
    tseen, *tgrads = _hooked_run(torch)
    sseen, *sgrads = _hooked_run(ts)
    assert len(sseen) == len(tseen) == 2
    for (tgi, tgo), (sgi, sgo) in zip(tseen, sseen):
        assert [g is None for g in sgi] == [g is None for g in tgi]
        for a, b in zip(tgi + tgo, sgi + sgo):
            if a is not None:
                np.testing.assert_allclose(b, a, rtol=1e-6)
    for a, b in zip(tgrads, sgrads):
        np.testing.assert_allclose(b, a, rtol=1e-6)
