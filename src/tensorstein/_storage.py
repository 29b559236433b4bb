"""Storage views of a tensor's memory, as torch's ``TypedStorage`` (``t.storage()``) and ``UntypedStorage``
(``t.untyped_storage()``): the whole buffer a tensor and its views share, read through NumPy.

>>> import tensorstein as torch
>>> x = torch.arange(6.0)[2:]
>>> s = x.storage()
>>> len(s), s.dtype, x.storage_offset(), s[2]
(6, tensorstein.float32, 2, 2.0)
"""
from __future__ import annotations

import numpy as np

from . import _dtype as D
from ._device import CPU


def root_array(arr: np.ndarray) -> np.ndarray:
    """The array owning ``arr``'s memory (the start of its storage)."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


def _flat_bytes(arr: np.ndarray) -> np.ndarray:
    """The storage of ``arr`` as a flat uint8 array sharing its memory."""
    root = root_array(arr)
    if root.flags.c_contiguous or root.flags.f_contiguous:
        return root.ravel(order="A").view(np.uint8)
    # a strided array over foreign memory (rare): a copy of its elements stands in for the storage
    return np.ascontiguousarray(root).reshape(-1).view(np.uint8)


class UntypedStorage:
    """The bytes of a tensor's storage; indexing gives ints in [0, 255]."""

    def __init__(self, data: np.ndarray):
        self._bytes = data  # flat uint8 view of the shared memory

    device = CPU

    def __len__(self) -> int:
        return self._bytes.size

    def size(self) -> int:
        return self._bytes.size

    def nbytes(self) -> int:
        return self._bytes.size

    def element_size(self) -> int:
        return 1

    def data_ptr(self) -> int:
        return self._bytes.__array_interface__["data"][0]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return UntypedStorage(self._bytes[i])
        return int(self._bytes[i])

    def __setitem__(self, i, value):
        self._bytes[i] = value

    def tolist(self) -> list:
        return self._bytes.tolist()

    def __iter__(self):
        return iter(self.tolist())

    def fill_(self, value) -> "UntypedStorage":
        self._bytes[...] = value
        return self

    def __repr__(self) -> str:
        body = "\n".join(f" {v}" for v in self.tolist())
        return f"{body}\n[tensorstein.storage.UntypedStorage(device=cpu) of size {len(self)}]"


class TypedStorage:
    """A tensor's storage read as elements of its dtype: ``len``, ``tolist()``, indexing, ``data_ptr()``."""

    def __init__(self, data: np.ndarray, dtype: D.dtype):
        self._bytes = data
        self.dtype = dtype
        self._array = data[:data.size - data.size % dtype.itemsize].view(dtype.np)

    device = CPU

    def __len__(self) -> int:
        return self._array.size

    def size(self) -> int:
        return self._array.size

    def nbytes(self) -> int:
        return self._array.nbytes

    def element_size(self) -> int:
        return self.dtype.itemsize

    def data_ptr(self) -> int:
        return self._bytes.__array_interface__["data"][0]

    def untyped(self) -> UntypedStorage:
        return UntypedStorage(self._bytes)

    def _untyped_storage(self) -> UntypedStorage:
        return self.untyped()

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                raise RuntimeError(f"slices with steps are not supported, got step={step}")
            n = self.dtype.itemsize
            return TypedStorage(self._bytes[start * n:stop * n], self.dtype)
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"can't index a {type(self).__name__} with {type(i).__name__}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for storage of size {len(self)}")
        return _scalar(self._array[i])

    def __setitem__(self, i, value):
        self._array[i] = value

    def tolist(self) -> list:
        arr = self._array
        if arr.dtype == D.bfloat16.np or arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        return arr.tolist()

    def __iter__(self):
        return iter(self.tolist())

    def fill_(self, value) -> "TypedStorage":
        self._array[...] = value
        return self

    def __repr__(self) -> str:
        body = "\n".join(f" {v}" for v in self.tolist())
        return (f"{body}\n[tensorstein.storage.TypedStorage(dtype=tensorstein.{self.dtype.name}, device=cpu) "
                f"of size {len(self)}]")


def _scalar(v):
    if v.dtype == D.bfloat16.np or v.dtype == np.float16:
        return float(np.float32(v))
    return v.item()


def typed_storage(arr: np.ndarray) -> TypedStorage:
    return TypedStorage(_flat_bytes(arr), D._BY_NP[arr.dtype])


def untyped_storage(arr: np.ndarray) -> UntypedStorage:
    return UntypedStorage(_flat_bytes(arr))
