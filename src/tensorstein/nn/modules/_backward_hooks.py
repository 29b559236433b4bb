"""``Module.register_full_backward_hook`` / ``register_full_backward_pre_hook``.

A module with such hooks routes its tensor inputs and outputs through identity ops
(``BackwardHookFunctionBackward``): the output identities see ``grad_output`` (pre-hooks may replace it),
the input identities see ``grad_input``; the hooks run once every input gradient has arrived (with one
input, the usual case, a returned ``grad_input`` replaces the gradient that flows on).
"""
from __future__ import annotations

import warnings

from ..._autograd.grad_mode import STATE
from ..._autograd.graph import attach, node_type
from ..._tensor import Tensor

BackwardHookFunctionBackward = node_type("BackwardHookFunctionBackward")


def _identity(t, backward):
    out = Tensor._make(t._data)
    out._version = t._version
    return attach(out, BackwardHookFunctionBackward, backward, (t,))


class _State:
    def __init__(self, module, n_out):
        self.module = module
        self.grad_output = [None] * n_out
        self.grad_input = {}
        self.n_in = 0
        self.fired = False

    def fire(self, n_inputs):
        """Run the full backward hooks; returns the (possibly replaced) grad_input tuple."""
        grads = tuple(self.grad_input.get(i) for i in range(n_inputs))
        for hook in list(self.module.__dict__.get("_backward_hooks", {}).values()):
            res = hook(self.module, grads, tuple(self.grad_output))
            if res is not None:
                grads = tuple(res) if isinstance(res, (tuple, list)) else (res,)
        return grads


def call_with_backward_hooks(module, args, kwargs):
    if not STATE.enabled:
        return module._call_impl(*args, _in_bw_hook=True, **kwargs)
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    n_inputs = sum(isinstance(a, Tensor) for a in args)
    tensor_index = {}
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            tensor_index[i] = len(tensor_index)
    holder = {}
    new_args = list(args)
    for i in positions:
        k = tensor_index[i]

        def in_backward(g, k=k):
            st = holder["state"]
            st.grad_input[k] = g
            if len(st.grad_input) == len(positions) and not st.fired:
                st.fired = True
                return (st.fire(n_inputs)[k],)
            return (g,)

        new_args[i] = _identity(args[i], in_backward)
    result = module._call_impl(*new_args, _in_bw_hook=True, **kwargs)
    outs = result if isinstance(result, tuple) else (result,)
    st = holder["state"] = _State(module, len(outs))
    wrapped = []
    for j, o in enumerate(outs):
        if not (isinstance(o, Tensor) and o.requires_grad):
            wrapped.append(o)
            continue

        def out_backward(g, j=j):
            for hook in list(module.__dict__.get("_backward_pre_hooks", {}).values()):
                res = hook(module, tuple(g if i == j else st.grad_output[i] for i in range(len(outs))))
                if res is not None:
                    g = res[j] if isinstance(res, (tuple, list)) else res
            st.grad_output[j] = g
            if not positions and not st.fired and module.__dict__.get("_backward_hooks"):  # no input needs grad: torch fires with grad_input all None
                st.fired = True
                warnings.warn("Full backward hook is firing when gradients are computed with respect to module "
                              "outputs since no inputs require gradients. See https://docs.pytorch.org/docs/main/"
                              "generated/torch.nn.Module.html#torch.nn.Module.register_full_backward_hook for more "
                              "details.")
                st.fire(n_inputs)
            return (g,)

        wrapped.append(_identity(o, out_backward))
    return tuple(wrapped) if isinstance(result, tuple) else wrapped[0]
