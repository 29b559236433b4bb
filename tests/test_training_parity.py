"""Training parity: the same MLP, initial weights and data trained for 30 steps gives torch's loss curve."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorstein as ts
import tensorstein.nn  # noqa: F401  (until the package re-exports nn and optim)
import tensorstein.optim  # noqa: F401


def _mlp(lib, d_in=8, hidden=32, classes=4):
    n = lib.nn
    return n.Sequential(n.Linear(d_in, hidden), n.GELU(), n.LayerNorm(hidden), n.Linear(hidden, hidden), n.ReLU(),
                        n.Linear(hidden, classes))


def _curve(lib, model, opt_name, opt_kw, x, y, steps=30, sched=False):
    opt = getattr(lib.optim, opt_name)(model.parameters(), **opt_kw)
    scheduler = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) if sched else None
    loss_fn = lib.nn.CrossEntropyLoss()
    xs, ys = lib.tensor(x), lib.tensor(y)
    losses = []
    for i in range(steps):
        opt.zero_grad()
        sl = slice((i % 4) * 16, (i % 4) * 16 + 16)
        loss = loss_fn(model(xs[sl]), ys[sl])
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
    return np.array(losses), model


@pytest.mark.parametrize("opt_name,opt_kw,sched", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, False),
    ("AdamW", {"lr": 1e-2, "weight_decay": 0.05}, False),
    ("Adam", {"lr": 5e-3, "amsgrad": True}, True),
])
def test_loss_curve_matches_torch(opt_name, opt_kw, sched):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = (x[:, :4].argmax(1)).astype(np.int64)
    torch.manual_seed(0)
    m_th = _mlp(torch)
    m_ts = _mlp(ts)
    m_ts.load_state_dict({k: ts.tensor(v.detach().numpy()) for k, v in m_th.state_dict().items()})
    l_ts, m_ts = _curve(ts, m_ts, opt_name, opt_kw, x, y, sched=sched)
    l_th, m_th = _curve(torch, m_th, opt_name, opt_kw, x, y, sched=sched)
    assert l_th[-1] < l_th[0] * 0.7  # it actually trains
    np.testing.assert_allclose(l_ts, l_th, atol=1e-4, rtol=0)
    sd_th = m_th.state_dict()
    for k, v in m_ts.state_dict().items():
        np.testing.assert_allclose(v.numpy(), sd_th[k].numpy(), atol=1e-4, err_msg=k)
