"""Activation checkpointing: run a function without keeping its intermediate tensors, and recompute
them (with the same random state) during backward.

>>> import tensorstein as torch
>>> block, x = torch.nn.Linear(3, 3), torch.randn(2, 3, requires_grad=True)
>>> y = checkpoint(block, x, use_reentrant=False)    # same values and gradients as block(x)
>>> bool(torch.equal(y, block(x)))
True
"""
from __future__ import annotations

import warnings

from .._autograd.grad_mode import STATE, enable_grad, no_grad
from .._autograd.graph import node_type, run_backward
from .._tensor import Tensor

CheckpointFunctionBackward = node_type("CheckpointFunctionBackward")


def noop_context_fn():
    from contextlib import nullcontext
    return nullcontext(), nullcontext()


def _has_trainable_state(function) -> bool:
    """Whether ``function`` (a Module, a Module's bound method, or a closure) reaches tensors needing grad."""
    from ..nn.modules.module import Module

    def trainable(obj):
        if isinstance(obj, Module):
            return any(p.requires_grad for p in obj.parameters())
        if isinstance(obj, (list, tuple)):
            return any(trainable(o) for o in obj)
        return isinstance(obj, Tensor) and obj.requires_grad

    if trainable(function) or trainable(getattr(function, "__self__", None)):
        return True
    cells = getattr(function, "__closure__", None) or ()
    return any(trainable(c.cell_contents) for c in cells if _filled(c))


def _filled(cell) -> bool:
    try:
        _ = cell.cell_contents
    except ValueError:
        return False
    return True


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn, determinism_check="default",
               debug=False, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` whose activations are recomputed in backward instead of stored.

    Gradients flow to tensor arguments (returned through the graph) and to the parameters the function
    uses (accumulated into their ``.grad`` during the recomputation, as torch's reentrant variant does).
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in "
                      "PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default behavior, "
                      "you can pass use_reentrant=True. Refer to docs for more details on the differences between "
                      "the two variants.", stacklevel=2)
        use_reentrant = True
    if use_reentrant and (context_fn is not noop_context_fn or debug):
        raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    from .._ops.random import get_rng_state, set_rng_state
    rng_state = get_rng_state() if preserve_rng_state else None
    with no_grad():
        out = function(*args, **kwargs)
    if not STATE.enabled:
        return out
    inputs = tuple(a for a in args if isinstance(a, Tensor))
    input_grad = any(t.requires_grad for t in inputs)
    if use_reentrant and not input_grad:
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
        return out
    if not (input_grad or _has_trainable_state(function)):
        return out
    outs = out if isinstance(out, (tuple, list)) else (out,)

    def recompute():
        current = get_rng_state() if preserve_rng_state else None
        if preserve_rng_state:
            set_rng_state(rng_state)
        try:
            detached = {id(a): a.detach().requires_grad_(a.requires_grad) for a in inputs}
            new_args = [detached.get(id(a), a) if isinstance(a, Tensor) else a for a in args]
            with enable_grad():
                res = function(*new_args, **kwargs)
        finally:
            if preserve_rng_state:
                set_rng_state(current)
        return (res if isinstance(res, (tuple, list)) else (res,)), [detached[id(a)] for a in inputs]

    def backward_for(k):
        def backward(g):
            res, leaves = recompute()
            if not res[k].requires_grad:
                return (None,) * len(inputs)
            run_backward((res[k],), (g,), retain_graph=False, create_graph=STATE.enabled)
            return tuple(leaf.grad for leaf in leaves)
        return backward

    for k, o in enumerate(outs):
        if isinstance(o, Tensor) and o.is_floating_point() and not any(o is a for a in inputs):
            o.requires_grad = True
            o.grad_fn = CheckpointFunctionBackward(backward_for(k), inputs, ())
    return out


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a Sequential or list) in ``segments`` checkpointed chunks; the last one is not."""
    from ..nn.modules.container import Sequential
    fns = list(functions.children()) if isinstance(functions, Sequential) else list(functions)
    size = max(len(fns) // segments, 1)

    def run(start, end):
        def forward(x):
            for f in fns[start:end]:
                x = f(x)
            return x
        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end + 1), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(fns))(input)
