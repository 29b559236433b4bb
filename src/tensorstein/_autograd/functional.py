"""Public autograd entry points: ``backward``, ``grad`` and ``gradcheck``.

>>> x = tensor([2.0], requires_grad=True)
>>> grad((x * x).sum(), x)
(tensor([4.]),)
"""
from __future__ import annotations

import numpy as np

from .grad_mode import enable_grad, no_grad
from .graph import run_backward


def _as_tuple(x):
    if x is None:
        return None
    from .._tensor import Tensor
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _default_grads(outputs, grad_outputs):
    from .._tensor import Tensor

    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None and i < len(grad_outputs) else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = Tensor._make(np.ones(out._data.shape, dtype=out._data.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor._make(np.full(out._data.shape, g, dtype=out._data.dtype))
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
        from .._ops.creation import zeros_like
        result = tuple(zeros_like(t) if g is None else g for t, g in zip(inputs, result))
    return result


class GradcheckError(RuntimeError):
    pass


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored) -> bool:
    """Compare analytical gradients with central finite differences (use float64 inputs).

    Every output element's vector-Jacobian product is checked against the numerical Jacobian.
    """
    from .._tensor import Tensor

    inputs = _as_tuple(inputs)
    diff_inputs = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in diff_inputs:
        if t.dtype.name != "float64":
            import warnings
            warnings.warn("Input #0 requires gradient and is not a double precision floating point. "
                          "gradcheck is only reliable with float64 inputs.")

    def run():
        out = func(*inputs)
        return _as_tuple(out)

    with enable_grad():
        outputs = [o for o in run() if isinstance(o, Tensor)]
    for oi, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        n_out = out._data.size
        analytical = [np.zeros((n_out, t._data.size)) for t in diff_inputs]
        for j in range(n_out):
            with enable_grad():
                outs = [o for o in run() if isinstance(o, Tensor)]
                g = np.zeros(out._data.shape, dtype=out._data.dtype)
                g.reshape(-1)[j] = 1
                got = grad(outs[oi], diff_inputs, Tensor._make(g), allow_unused=True)
            for k, gk in enumerate(got):
                if gk is not None:
                    analytical[k][j] = gk._data.reshape(-1)
        for k, t in enumerate(diff_inputs):
            flat = t._data.reshape(-1)
            numerical = np.zeros((n_out, flat.size))
            for i in range(flat.size):
                orig = flat[i]
                flat[i] = orig + eps
                with no_grad():
                    plus = np.array(run()[oi]._data, dtype=np.float64).reshape(-1)
                flat[i] = orig - eps
                with no_grad():
                    minus = np.array(run()[oi]._data, dtype=np.float64).reshape(-1)
                flat[i] = orig
                numerical[:, i] = (plus - minus) / (2 * eps)
            if not np.allclose(analytical[k], numerical, atol=atol, rtol=rtol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {oi} with respect to input {k},\n"
                        f"numerical:{numerical}\nanalytical:{analytical[k]}\n")
                return False
    return True

