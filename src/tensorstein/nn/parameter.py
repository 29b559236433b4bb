"""``Parameter``: a Tensor that a Module registers as a learnable weight (requires_grad by default)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor, _init


class Parameter(Tensor):
    """A leaf tensor registered by ``Module.__setattr__``; shares the data of the tensor it wraps."""

    def __new__(cls, data=None, requires_grad=True):
        return object.__new__(cls)

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            arr = np.empty((0,), dtype=np.float32)
        elif isinstance(data, Tensor):
            arr = data._data
        else:
            raise TypeError(f"Parameter(): expected a Tensor, got {type(data).__name__}")
        _init(self, arr)
        if requires_grad and not (arr.dtype.kind == "f" or self.is_floating_point()):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        self.requires_grad = bool(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self._data.copy(), self.requires_grad))


def _rebuild_parameter(arr, requires_grad):
    return Parameter(Tensor._make(arr), requires_grad)


class Buffer(Tensor):
    """Marker kept for API compatibility: ``Buffer(t)`` registers ``t`` as a buffer when set on a Module."""

    def __new__(cls, data=None, *, persistent=True):
        t = data if data is not None else Tensor._make(np.empty((0,), dtype=np.float32))
        t.__dict__["_is_buffer_marker"] = persistent
        return t
