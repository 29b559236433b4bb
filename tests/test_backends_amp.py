"""torch.backends / accelerator / cuda / amp / compile / constants: the values torch reports on a CPU-only machine."""
import warnings

import numpy as np
import pytest
import torch

import tensorstein as ts


def test_constants_match_torch():
    assert (ts.pi, ts.e, ts.inf, ts.newaxis) == (torch.pi, torch.e, torch.inf, torch.newaxis)
    assert np.isnan(ts.nan)


@pytest.mark.parametrize("query", [
    lambda m: m.backends.mps.is_available(), lambda m: m.backends.mps.is_built(),
    lambda m: m.backends.cuda.is_built(), lambda m: m.backends.cudnn.is_available(),
    lambda m: m.backends.cudnn.version(), lambda m: m.backends.cudnn.enabled,
    lambda m: m.backends.cudnn.benchmark, lambda m: m.backends.cudnn.deterministic,
    lambda m: m.backends.mkl.is_available(), lambda m: m.backends.mkldnn.is_available(),
    lambda m: m.backends.openmp.is_available(), lambda m: m.backends.cuda.matmul.allow_tf32,
    lambda m: m.backends.cpu.get_cpu_capability(), lambda m: m.backends.mha.get_fastpath_enabled(),
    lambda m: m.cuda.is_available(), lambda m: m.cuda.device_count(),
    lambda m: m.accelerator.is_available(), lambda m: m.accelerator.device_count(),
    lambda m: m.accelerator.current_accelerator(), lambda m: str(m.get_default_device()),
])
def test_backend_queries_match_torch(query):
    assert query(ts) == query(torch)


def test_cudnn_flags_restore():
    with ts.backends.cudnn.flags(enabled=False, deterministic=True):
        assert ts.backends.cudnn.deterministic and not ts.backends.cudnn.enabled
    assert ts.backends.cudnn.enabled and not ts.backends.cudnn.deterministic


@pytest.mark.parametrize("call", [lambda m: m.accelerator.current_device_index(),
                                  lambda m: m.accelerator.synchronize(), lambda m: m.cuda.current_device()])
def test_missing_accelerator_errors_match_torch(call):
    with pytest.raises(Exception) as expected:
        call(torch)
    with pytest.raises(type(expected.value), match=str(expected.value)):
        call(ts)


def test_tutorial_device_selection_runs():
    # the official tutorials' first lines
    device = ts.accelerator.current_accelerator().type if ts.accelerator.is_available() else "cpu"
    ts.set_default_device(device)
    assert ts.zeros(2).device == ts.device("cpu")
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):  # torch's text for cuda
        ts.set_default_device("cuda")
    assert str(ts.get_default_device()) == "cpu"


def _linear_pair(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((5, 8)).astype(np.float32), rng.standard_normal((3, 8)).astype(np.float32)


def test_autocast_state_nests_and_warns_like_torch():
    for lib in (ts, torch):
        with lib.autocast("cpu"):
            assert lib.is_autocast_enabled("cpu") and not lib.is_autocast_enabled()
            assert lib.get_autocast_dtype("cpu") == lib.bfloat16
            with lib.autocast("cpu", enabled=False):
                assert not lib.is_autocast_enabled("cpu")
            assert lib.is_autocast_enabled("cpu")
        assert not lib.is_autocast_enabled("cpu")
    for args in [("cpu", "float32"), ("cuda", None)]:
        messages = []
        for lib in (ts, torch):
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                dtype = getattr(lib, args[1]) if args[1] else None
                with lib.autocast(args[0], dtype=dtype):
                    assert not lib.is_autocast_enabled("cpu")
            messages.append([str(x.message) for x in w if "autocast" in str(x.message).lower()])
        assert messages[0] == messages[1]
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        ts.autocast("xyz")


def test_autocast_decorator_and_thread_locality():
    import threading

    seen = []

    @ts.autocast("cpu")
    def inside():
        seen.append(ts.is_autocast_enabled("cpu"))
        t = threading.Thread(target=lambda: seen.append(ts.is_autocast_enabled("cpu")))
        t.start()
        t.join()

    inside()
    assert seen == [True, False]


def _train_scaled(lib, grads_poison_step=None, steps=4):
    lib.manual_seed(0)
    w = lib.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)
    scaler = lib.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
    x = lib.tensor([[1.0, 2.0], [3.0, -1.0]])
    scales = []
    for step in range(steps):
        opt.zero_grad()
        loss = (x @ w).pow(2).sum()
        scaler.scale(loss).backward()
        if step == grads_poison_step:
            w.grad[0, 0] = float("inf")
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return w.detach().numpy(), scales, scaler.state_dict()


@pytest.mark.parametrize("poison", [None, 1])
def test_grad_scaler_matches_torch(poison):
    a, b = _train_scaled(ts, poison), _train_scaled(torch, poison)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6)
    assert a[1] == b[1] and a[2] == b[2]


def test_grad_scaler_errors_and_disabled_cuda_match_torch():
    for lib in (ts, torch):
        s = lib.amp.GradScaler("cpu")
        with pytest.raises(AssertionError, match="_scale is None"):
            s.update()
        w = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        s.scale(w.sum()).backward()
        s.unscale_(opt)
        with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
            s.unscale_(opt)
        s.step(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            s.step(opt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            off = lib.cuda.amp.GradScaler()
        assert not off.is_enabled() and off.get_scale() == 1.0 and off.state_dict() == {}
        assert off.scale(lib.tensor(3.0)).item() == 3.0


def test_compile_returns_equivalent_callables():
    lin_ts, lin_t = ts.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    c_ts, c_t = ts.compile(lin_ts), torch.compile(lin_t, backend="eager")
    assert list(c_ts.state_dict()) == list(c_t.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
    assert c_ts.in_features == 3 and c_ts.weight is lin_ts.weight
    x = ts.ones(4, 3)
    np.testing.assert_array_equal(c_ts(x).detach().numpy(), lin_ts(x).detach().numpy())

    @ts.compile(mode="max-autotune")
    def double(t):
        return t * 2

    assert double(ts.tensor([1.5])).item() == 3.0 and double.__name__ == "double"
    with pytest.raises(AssertionError, match="A callable function is expected"):
        ts.compile(3)
