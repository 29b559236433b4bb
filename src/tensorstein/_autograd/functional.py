"""Public autograd entry points ``backward`` and ``grad`` (``Tensor.backward`` calls ``backward``).

Written against the Tensor protocol (``_data``, ``requires_grad``, ``grad_fn``), so this module sits below
``_tensor``.

>>> import tensorstein as torch
>>> x = torch.tensor([2.0], requires_grad=True)
>>> grad((x * x).sum(), x)
(tensor([4.]),)
"""
from __future__ import annotations

import numpy as np

from .graph import run_backward


def _as_tuple(x):
    """A tensor, or any iterable of them (``model.parameters()``), as a tuple."""
    if x is None:
        return None
    return (x,) if _is_tensor(x) else tuple(x)


def _is_tensor(x) -> bool:
    return hasattr(x, "_data") and hasattr(x, "grad_fn")


def _default_grads(outputs, grad_outputs):
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None and i < len(grad_outputs) else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = out._make(np.ones(out._data.shape, dtype=out._data.dtype))
        elif not _is_tensor(g):
            g = out._make(np.full(out._data.shape, g, dtype=out._data.dtype))
        elif g._data.shape != out._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] has a "
                               f"shape of {out.shape}.")
        grads.append(g)
    return grads


def _check_requires_grad(outputs):
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad``."""
    outputs = _as_tuple(tensors)
    _check_requires_grad(outputs)
    grads = _default_grads(outputs, _as_tuple(grad_tensors))
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        got = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs, allow_unused=True)
        for t, g in zip(inputs, got):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return
    run_backward(outputs, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs`` (not accumulated into ``.grad``)."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    _check_requires_grad(outputs)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _default_grads(outputs, _as_tuple(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                          allow_unused=bool(allow_unused) or materialize_grads)
    if materialize_grads:
        result = tuple(t._make(np.zeros_like(t._data)) if g is None else g for t, g in zip(inputs, result))
    return result
