"""Optimizers, schedulers and gradient clipping vs torch: identical parameter trajectories for identical
gradients, state_dict layout and round trips, error texts."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import tensorstein as ts
from tensorstein import nn, optim

RNG = np.random.default_rng(2)

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.05, "amsgrad": True, "maximize": True}),
]


def _params(shapes=((5, 3), (3,))):
    arrs = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    return [nn.Parameter(ts.tensor(a)) for a in arrs], [torch.nn.Parameter(torch.tensor(a)) for a in arrs]


@pytest.mark.parametrize("name,kw", CASES)
def test_trajectory_matches_torch(name, kw):
    p_ts, p_th = _params()
    o_ts, o_th = getattr(optim, name)(p_ts, **kw), getattr(torch.optim, name)(p_th, **kw)
    for _ in range(25):
        for a, b in zip(p_ts, p_th):
            g = RNG.standard_normal(a.shape).astype(np.float32)
            a.grad, b.grad = ts.tensor(g), torch.tensor(g)
        v = p_ts[0]._version[0]
        o_ts.step()
        o_th.step()
        assert p_ts[0]._version[0] > v
    for a, b in zip(p_ts, p_th):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name,kw", [CASES[1], CASES[5], CASES[7]])
def test_state_dict_layout_and_round_trip(name, kw):
    p_ts, p_th = _params()
    o_ts, o_th = getattr(optim, name)(p_ts, **kw), getattr(torch.optim, name)(p_th, **kw)
    for a, b in zip(p_ts, p_th):
        g = RNG.standard_normal(a.shape).astype(np.float32)
        a.grad, b.grad = ts.tensor(g), torch.tensor(g)
    o_ts.step()
    o_th.step()
    sd_ts, sd_th = o_ts.state_dict(), o_th.state_dict()
    assert sd_ts["param_groups"] == sd_th["param_groups"]
    assert sd_ts["state"].keys() == sd_th["state"].keys()
    for i in sd_th["state"]:
        assert sd_ts["state"][i].keys() == sd_th["state"][i].keys()
        for k, v in sd_th["state"][i].items():
            np.testing.assert_allclose(sd_ts["state"][i][k].numpy(), v.numpy(), rtol=1e-6, err_msg=k)
    # load torch's state into a fresh tensorstein optimizer (and our own), then keep stepping identically
    p2, _ = _params()
    for a, b in zip(p2, p_th):
        a.data = ts.tensor(b.detach().numpy())
    o2 = getattr(optim, name)(p2, **kw)
    o2.load_state_dict(sd_th)
    o3 = getattr(optim, name)(p_ts, **kw)
    o3.load_state_dict(sd_ts)
    for _ in range(3):
        for a, b, c in zip(p2, p_th, p_ts):
            g = RNG.standard_normal(a.shape).astype(np.float32)
            a.grad, b.grad, c.grad = ts.tensor(g), torch.tensor(g), ts.tensor(g)
        o2.step()
        o3.step()
        o_th.step()
    for a, b, c in zip(p2, p_th, p_ts):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(c.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_param_groups_and_zero_grad():
    a, b = nn.Parameter(ts.ones(2)), nn.Parameter(ts.ones(3))
    o = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in o.param_groups] == [0.1, 0.5]
    c = nn.Parameter(ts.ones(1))
    o.add_param_group({"params": [c], "momentum": 0.0})
    assert o.param_groups[2]["lr"] == 0.1 and o.param_groups[2]["momentum"] == 0.0
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        o.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.Adam([a * 2])
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.SGD([a], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([a], lr=0.1, nesterov=True)
    a.grad = ts.ones(2)
    o.zero_grad(set_to_none=False)
    assert a.grad is not None and not a.grad.numpy().any()
    o.zero_grad()
    assert a.grad is None
    with pytest.raises(ValueError, match="loaded state dict has a different number of parameter groups"):
        optim.SGD([a], lr=0.1).load_state_dict(o.state_dict())


def test_step_with_closure():
    w = nn.Parameter(ts.tensor([3.0]))
    o = optim.SGD([w], lr=0.25)

    def closure():
        o.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = o.step(closure)
    assert loss.item() == 9.0 and w.item() == 1.5


@pytest.mark.parametrize("name,kw", [("StepLR", {"step_size": 3, "gamma": 0.5}),
                                     ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
                                     ("LinearLR", {"start_factor": 0.2, "total_iters": 4}),
                                     ("LambdaLR", {"lr_lambda": lambda e: 0.9 ** e})])
def test_schedulers_match_torch(name, kw):
    o_ts = optim.SGD([nn.Parameter(ts.ones(1))], lr=0.3)
    o_th = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.3)
    s_ts = getattr(optim.lr_scheduler, name)(o_ts, **kw)
    s_th = getattr(torch.optim.lr_scheduler, name)(o_th, **kw)
    for _ in range(20):
        assert s_ts.get_last_lr() == s_th.get_last_lr()
        assert o_ts.param_groups[0]["lr"] == o_th.param_groups[0]["lr"]
        o_ts.step()
        o_th.step()
        s_ts.step()
        s_th.step()
    if hasattr(s_th, "_get_closed_form_lr"):
        for lr_a, lr_b in zip(s_ts._get_closed_form_lr(), s_th._get_closed_form_lr()):
            assert math.isclose(lr_a, lr_b, rel_tol=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_clip_grad_norm(norm_type):
    p_ts, p_th = _params(((4, 3), (5,), (2, 2)))
    for a, b in zip(p_ts, p_th):
        g = RNG.standard_normal(a.shape).astype(np.float32) * 3
        a.grad, b.grad = ts.tensor(g), torch.tensor(g)
    n_ts = nn.utils.clip_grad_norm_(p_ts, 1.5, norm_type)
    n_th = torch.nn.utils.clip_grad_norm_(p_th, 1.5, norm_type)
    np.testing.assert_allclose(n_ts.item(), n_th.item(), rtol=1e-5)
    for a, b in zip(p_ts, p_th):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_nonfinite_and_value():
    p = nn.Parameter(ts.ones(3))
    p.grad = ts.tensor([1.0, float("inf"), 2.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    p.grad = ts.tensor([-3.0, 0.5, 2.0])
    nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, 0.5, 1.0]


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[0] != "SGD"])
def test_fused_adam_kernel_equals_numpy_path(name, kw, monkeypatch):
    from tensorstein.optim import adam as adam_mod
    p1, _ = _params()
    p2 = [nn.Parameter(ts.tensor(p.detach().numpy().copy())) for p in p1]
    o1 = getattr(optim, name)(p1, **kw)
    o2 = getattr(optim, name)(p2, **kw)
    for _ in range(5):
        for a, b in zip(p1, p2):
            g = RNG.standard_normal(a.shape).astype(np.float32)
            a.grad, b.grad = ts.tensor(g), ts.tensor(g)
        o1.step()
        with monkeypatch.context() as m:
            m.setattr(adam_mod, "_fused", lambda *args: None)
            o2.step()
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
