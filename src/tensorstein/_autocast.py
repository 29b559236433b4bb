"""Per-thread autocast state and the cast that the matmul-family ops apply under ``autocast("cpu")``.

A leaf module: ops call ``lower_precision(*tensors)`` before computing; it returns the tensors unchanged
unless CPU autocast is on in this thread, then casts float32/float16 operands to the autocast dtype
(bfloat16 by default) with the differentiable ``Tensor.to``, as torch's CPU autocast does for its
lower-precision op list (matmul, mm, bmm, addmm, baddbmm, linear, conv, attention).

>>> state().enabled
False
"""
from __future__ import annotations

import threading

_local = threading.local()


class _State:
    __slots__ = ("enabled", "dtype")

    def __init__(self):
        self.enabled = False
        self.dtype = None  # a tensorstein dtype, set by autocast (bfloat16 by default)


def state() -> _State:
    """This thread's CPU autocast state."""
    s = getattr(_local, "cpu", None)
    if s is None:
        s = _local.cpu = _State()
    return s


def lower_precision(*tensors):
    """The operands as an op under CPU autocast computes with them (float64 and non-float stay as they are)."""
    s = getattr(_local, "cpu", None)
    if s is None or not s.enabled:
        return tensors
    target = s.dtype
    return tuple(t.to(target) if t is not None and t.dtype.is_floating_point and t.dtype.itemsize <= 4
                 and t.dtype != target else t for t in tensors)
