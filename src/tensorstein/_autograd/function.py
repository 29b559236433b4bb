"""Custom differentiable operations, as ``torch.autograd.Function``.

>>> class Square(Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x * x
...     @staticmethod
...     def backward(ctx, g):
...         (x,) = ctx.saved_tensors
...         return 2 * x * g
>>> x = torch.tensor([3.0], requires_grad=True)
>>> Square.apply(x)
tensor([9.], grad_fn=<SquareBackward>)
"""
from __future__ import annotations

import numpy as np

from .grad_mode import no_grad
from .graph import attach, node_type, needs_grad


class FunctionCtx:
    """The ``ctx`` passed to ``forward``/``backward``: saved tensors and flags."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self._saved = tensors

    @property
    def saved_tensors(self):
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call ``apply``."""

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor

        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        tensors = tuple(a if isinstance(a, Tensor) else None for a in args)
        if not needs_grad(*tensors):
            return out
        outputs = out if isinstance(out, tuple) else (out,)
        cls_node = node_type(f"{cls.__name__}Backward")
        non_diff = getattr(ctx, "_non_diff", set())
        saved = tuple(t for t in ctx._saved if isinstance(t, Tensor))
        for k, o in enumerate(outputs):
            if not isinstance(o, Tensor) or id(o) in non_diff or not o.is_floating_point():
                continue
            # backward is linear in the output gradients, so one node per output (others zero) sums correctly
            attach(o, cls_node, _backward_for(cls, ctx, outputs, k, len(args)), tensors, saved)
        return out


def _backward_for(cls, ctx, outputs, k, n_args):
    from .._tensor import Tensor

    def backward(g):
        grads = tuple(g if i == k else (Tensor._make(np.zeros(o._data.shape, o._data.dtype))
                                        if isinstance(o, Tensor) else None) for i, o in enumerate(outputs))
        res = cls.backward(ctx, *grads)
        res = res if isinstance(res, tuple) else (res,)
        if len(res) < n_args:
            res = res + (None,) * (n_args - len(res))
        return res[:n_args]

    return backward
