"""torch's legacy tensor types: ``LongTensor``, ``FloatTensor``, ... (one per dtype row), called with sizes
(an uninitialised tensor, zero-filled here) or with data, and usable with ``isinstance`` and ``t.type(...)``.

>>> import tensorstein as torch
>>> torch.LongTensor([1, 2]), torch.FloatTensor(2, 3).shape, isinstance(torch.zeros(1), torch.FloatTensor)
(tensor([1, 2]), tensorstein.Size([2, 3]), True)
"""
from __future__ import annotations

import numpy as np

from . import _dtype as D
from ._device import check_device
from ._tensor import Size, Tensor, _to_array


def _is_size_args(args) -> bool:
    return all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args)


def new_legacy(dtype: D.dtype, args, device=None) -> Tensor:
    """``<Type>Tensor(*args)``: sizes give a (zero-filled) tensor of that shape, one sequence its data."""
    check_device(device)
    if not args:
        return Tensor._make(np.zeros(0, dtype.np))
    if len(args) == 1 and isinstance(args[0], Size):
        args = tuple(args[0])
    if _is_size_args(args):
        return Tensor._make(np.zeros(tuple(int(a) for a in args), dtype.np))
    if len(args) > 1:
        raise TypeError(f"new() received an invalid combination of arguments - got "
                        f"({', '.join(type(a).__name__ for a in args)}), but expected one of:\n"
                        " * (*, torch.device device = None)\n * (tuple of ints size, *, torch.device device = None)\n"
                        " * (object data, *, torch.device device = None)")
    data = args[0]
    if isinstance(data, Tensor):
        if data.dtype is not dtype:
            raise TypeError(f"expected TensorOptions(dtype={dtype.cpp_name}, device=cpu, layout=Strided, "
                            "requires_grad=false (default), pinned_memory=false (default), memory_format=(nullopt)) "
                            f"(got TensorOptions(dtype={data.dtype.cpp_name}, device=cpu, layout=Strided, "
                            "requires_grad=false (default), pinned_memory=false (default), "
                            "memory_format=(nullopt)))")
        return data.detach()
    if isinstance(data, (int, float, bool, np.generic)):
        raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    return Tensor._make(_to_array(data, dtype))


class _LegacyType(type):
    """The metaclass of the legacy types: calling one builds a tensor; ``isinstance`` checks the dtype."""

    dtype: D.dtype

    def __call__(cls, *args, device=None):
        return new_legacy(cls.dtype, args, device)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'tensorstein.{cls.__name__}'>"


def _legacy_type(dtype: D.dtype) -> type:
    return _LegacyType(dtype.tensor_type, (), {"dtype": dtype, "__module__": "tensorstein",
                                               "__doc__": f"The legacy ``{dtype.name}`` tensor type."})


LEGACY_TYPES = {d.tensor_type: _legacy_type(d) for d in D.ALL_DTYPES}
