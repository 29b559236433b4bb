"""Per-thread autocast state and the cast that the matmul-family ops apply under ``autocast("cpu")``.

A leaf module: ops call ``lower_precision(*tensors)`` before computing; it returns the tensors unchanged
unless CPU autocast is on in this thread (one thread-local attribute read), then casts float32/float16
operands to the autocast dtype (bfloat16 by default) with the differentiable ``Tensor.to``, as torch's CPU
autocast does for its lower-precision op list (matmul, mm, bmm, addmm, addbmm, baddbmm, linalg.vecdot,
linear, conv1d/2d/3d, scaled_dot_product_attention, prelu). float64 and non-float operands stay as they are.
``full_precision(*tensors)`` is torch's fp32 list (the losses, ``prod``, reflection / replication padding):
float16 / bfloat16 operands compute in float32. einsum follows its inner ``bmm`` calls (``_ops/einsum.py``).

>>> state().enabled
False
"""
from __future__ import annotations

import threading


class _State(threading.local):
    """This thread's CPU autocast switch and dtype (class attributes are every new thread's defaults)."""

    enabled = False
    dtype = None  # a tensorstein dtype, set by autocast (bfloat16 by default)


_local = _State()


def state() -> _State:
    """This thread's CPU autocast state."""
    return _local


def lower_precision(*tensors):
    """The operands as an op under CPU autocast computes with them (float64 and non-float stay as they are)."""
    if not _local.enabled:
        return tensors
    target = _local.dtype
    return tuple(t.to(target) if t is not None and t.dtype.is_floating_point and t.dtype.itemsize <= 4
                 and t.dtype is not target else t for t in tensors)


def full_precision(*tensors):
    """The operands as an op on torch's CPU autocast fp32 list computes with them: float16 / bfloat16 to
    float32 (unchanged outside autocast)."""
    if not _local.enabled:
        return tensors
    return tuple(t.float() if t is not None and t.dtype.is_floating_point and t.dtype.itemsize < 4 else t
                 for t in tensors)
