"""Adam and AdamW (amsgrad, weight decay, maximize): torch's single-tensor update in float32 arithmetic,
on the parameters' NumPy arrays in place."""
from __future__ import annotations

import numpy as np

from .._kernels.parallel import get_num_threads, parallel_for
from .._tensor import Tensor
from ._kernels import adam_kernel, adam_plain_kernel
from .optimizer import Optimizer, _writable

# parameters updated by the branch-free kernel are split over the thread pool above this many elements in all
_SPLIT_MIN = 1 << 18


def _fused(a, g, m, v):
    """The one-pass kernel when every array is a contiguous float32/float64 array of one dtype."""
    dt = a.dtype
    if (dt != np.float32 and dt != np.float64) or g.dtype != dt or not (
            a.flags.c_contiguous and g.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous):
        return None
    return adam_kernel()


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 amsgrad: bool = False, *, foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused=None, decoupled_weight_decay: bool = False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _update_group(self, group):
        beta1, beta2 = group["betas"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        amsgrad, maximize, decoupled = group["amsgrad"], group["maximize"], group["decoupled_weight_decay"]
        plain = adam_plain_kernel() if not (amsgrad or maximize) and (not wd or decoupled) else None
        batch = []  # (a, g, m, v, scalars) for the branch-free kernel, run after the loop
        scalars = {}  # (step, dtype) -> that kernel's scalar arguments (all parameters usually share one step)
        for p in group["params"]:
            if p.grad is None:
                continue
            a = _writable(p)
            f = a.dtype.type
            state = self.state[p]
            if len(state) == 0:
                state["step"] = Tensor._make(np.array(0.0, dtype=np.float32))
                state["exp_avg"] = Tensor._make(np.zeros_like(a))
                state["exp_avg_sq"] = Tensor._make(np.zeros_like(a))
                if amsgrad:
                    state["max_exp_avg_sq"] = Tensor._make(np.zeros_like(a))
            g = p.grad._data
            m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
            step_t = state["step"]._data
            step_t += np.float32(1)
            step = float(step_t)
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2 ** 0.5
            kernel = _fused(a, g, m, v)
            if plain is not None and kernel is not None:
                key = (step, f)
                args = scalars.get(key)
                if args is None:
                    w = f(1 - beta1)
                    args = scalars[key] = (f(1 - lr * wd) if wd else f(1), w, f(1) - w, bool(abs(w) < 0.5), f(beta2),
                                           f(1 - beta2), f(-step_size), f(bias_correction2_sqrt), f(eps))
                batch.append((a.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), args))
                p._version[0] += 1
                continue
            if kernel is not None and (not wd or decoupled):
                w = f(1 - beta1)
                vmax = state["max_exp_avg_sq"]._data.reshape(-1) if amsgrad else v.reshape(-1)
                kernel(a.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), vmax,
                       f(1 - lr * wd) if wd else f(1), w, f(1) - w, bool(abs(w) < 0.5), f(beta2), f(1 - beta2),
                       f(-step_size), f(bias_correction2_sqrt), f(eps), bool(amsgrad), bool(maximize))
                p._version[0] += 1
                continue
            if maximize:
                g = -g
            tmp, tmp2 = self._scratch(p, 2)
            if wd != 0:
                if decoupled:
                    a *= f(1 - lr * wd)
                else:
                    g = g + f(wd) * a
            # exp_avg.lerp_(grad, 1 - beta1)
            w = f(1 - beta1)
            if abs(w) < 0.5:
                np.subtract(g, m, out=tmp)
                tmp *= w
                m += tmp
            else:
                np.subtract(g, m, out=tmp)
                tmp *= f(1) - w
                np.subtract(g, tmp, out=m)
            # exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            v *= f(beta2)
            np.multiply(g, f(1 - beta2), out=tmp)
            tmp *= g
            v += tmp
            if amsgrad:
                vm = state["max_exp_avg_sq"]._data
                np.maximum(vm, v, out=vm)
                np.sqrt(vm, out=tmp)
            else:
                np.sqrt(v, out=tmp)
            tmp /= f(bias_correction2_sqrt)
            tmp += f(eps)
            # param.addcdiv_(exp_avg, denom, value=-step_size)
            np.multiply(m, f(-step_size), out=tmp2)
            tmp2 /= tmp
            a += tmp2
            p._version[0] += 1
        if batch:
            _run_plain(plain, batch)


def _run_plain(kernel, batch):
    """The branch-free kernel over every collected parameter; over the thread pool when there is enough work
    (parameters dealt largest first to the least loaded task; the kernel releases the GIL)."""
    total = sum(t[0].size for t in batch)
    n = min(get_num_threads(), len(batch))
    if n < 2 or total < _SPLIT_MIN:
        for a, g, m, v, args in batch:
            kernel(a, g, m, v, *args)
        return
    tasks, loads = [[] for _ in range(n)], [0] * n
    for t in sorted(batch, key=lambda t: -t[0].size):
        i = loads.index(min(loads))
        tasks[i].append(t)
        loads[i] += t[0].size

    def run(i):
        for a, g, m, v, args in tasks[i]:
            kernel(a, g, m, v, *args)

    parallel_for(run, n)


class AdamW(Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False, foreach=None, capturable: bool = False,
                 differentiable: bool = False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
