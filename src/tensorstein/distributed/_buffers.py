"""How tensors become MPI buffers: contiguous ones as they are (no copy), the rest through a copy.

MPI has no bfloat16 and no bool arithmetic: data that only moves travels as raw bits (uint16, uint8);
float16/bfloat16 that is reduced is converted to float32 first and rounded back once at the end.

>>> import numpy as np
>>> mpi_array(np.zeros(3, np.float32)).dtype
dtype('float32')
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from ._group import ReduceOp

_HALF = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
_BOOL = np.dtype(np.bool_)


def _bits(a: np.ndarray) -> np.ndarray:
    """A dtype MPI can move: halves as uint16, bool as uint8 (``a`` must be contiguous)."""
    if a.dtype in _HALF:
        return a.view(np.uint16)
    if a.dtype == _BOOL:
        return a.view(np.uint8)
    return a


def mpi_array(a: np.ndarray, reduce: bool = False) -> np.ndarray:
    """A read-only contiguous array holding ``a`` in a type MPI handles (a view when possible)."""
    if reduce and a.dtype in _HALF:
        return a.astype(np.float32)
    return _bits(np.ascontiguousarray(a))


class Buf:
    """The in-place MPI buffer of a tensor; ``back()`` stores results into the tensor when it was a copy."""

    __slots__ = ("_copied", "arr", "tensor")

    def __init__(self, tensor, reduce: bool = False):
        self.tensor = tensor
        a = tensor._data
        if reduce and a.dtype in _HALF:
            self.arr, self._copied = a.astype(np.float32), True
        elif a.flags.c_contiguous:
            self.arr, self._copied = _bits(a), False
        else:
            self.arr, self._copied = _bits(np.ascontiguousarray(a)), True

    def back(self) -> None:
        t = self.tensor
        if self._copied:
            a = t._data
            src = self.arr if self.arr.dtype == np.float32 and a.dtype in _HALF else self.arr.view(a.dtype)
            a[...] = src
        t._version[0] += 1


def check_op(op, dtype: np.dtype, name: str) -> None:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be a torch.distributed.ReduceOp, got {op!r}")
    floating = dtype.kind == "f" or dtype in _HALF
    if op is ReduceOp.AVG and dtype == _BOOL:
        raise ValueError(f"{name}: ReduceOp.AVG is not defined for bool tensors")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and floating:
        raise ValueError(f"{name}: {op} needs an integer or bool tensor, got {dtype}")


def mpi_op(MPI, op: ReduceOp, dtype: np.dtype):
    """The MPI operation for ``op`` on ``dtype`` (AVG is a SUM divided afterwards; bool sum is logical or)."""
    if dtype == _BOOL:
        return {ReduceOp.SUM: MPI.MAX, ReduceOp.PRODUCT: MPI.MIN, ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX,
                ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


def average(arr: np.ndarray, n: int) -> None:
    """Divide a summed buffer by the group size in place (integers truncate toward zero, like NCCL)."""
    if arr.dtype.kind == "f":
        np.divide(arr, n, out=arr)
    else:
        np.copyto(arr, np.sign(arr) * (np.abs(arr) // n))


def shape_of(t) -> list:
    return list(t._data.shape)
