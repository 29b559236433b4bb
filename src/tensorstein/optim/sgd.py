"""SGD with momentum, dampening, Nesterov, weight decay and maximize (torch's single-tensor formulas)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from .optimizer import Optimizer, _writable, required


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum: float = 0, dampening: float = 0, weight_decay: float = 0,
                 nesterov: bool = False, *, maximize: bool = False, foreach=None, differentiable: bool = False,
                 fused=None):
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach,
                    "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            a = _writable(p)
            f = a.dtype.type
            g = p.grad._data
            if maximize:
                g = -g
            if wd != 0:
                g = g + f(wd) * a
            if momentum != 0:
                state = self.state[p]
                buf_t = state.get("momentum_buffer")
                if buf_t is None:
                    buf_t = state["momentum_buffer"] = Tensor._make(np.array(g, dtype=a.dtype, copy=True))
                else:
                    buf = buf_t._data
                    buf *= f(momentum)
                    if dampening != 0:
                        buf += f(1 - dampening) * g
                    else:
                        buf += g
                buf = buf_t._data
                if nesterov:
                    g = g + f(momentum) * buf
                else:
                    g = buf
            (tmp,) = self._scratch(p, 1)
            np.multiply(g, f(-lr), out=tmp)
            a += tmp
            p._version[0] += 1
