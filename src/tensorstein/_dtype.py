"""dtypes, torch's type-promotion rules, iinfo/finfo and the default dtype.

>>> promote_types(uint8, int8)
tensorstein.int16
"""
from __future__ import annotations

import builtins

import ml_dtypes
import numpy as np


class dtype:
    """A tensor element type: one row holding every spelling torch uses for it.

    ``name`` torch's (``float32``), ``np`` the NumPy dtype, ``scalar_name`` ATen's ScalarType (``Float``),
    ``cpp_name`` the C++ type in some messages (``float``), ``tensor_type`` / ``storage_type`` the legacy
    class names (``FloatTensor`` / ``FloatStorage``), ``safetensors`` the file-format code (``F32``),
    ``aliases`` other ``tensorstein.*`` names (``float``), ``cast`` the Tensor cast method (``t.float()``),
    ``python_type`` the Python scalar type of its elements (``.item()``, ``tolist()``).

    >>> float16.scalar_name, float16.cpp_name, float16.tensor_type, float16.safetensors, float16.python_type
    ('Half', 'c10::Half', 'HalfTensor', 'F16', <class 'float'>)
    """

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_signed", "_rank", "_category", "scalar_name",
                 "cpp_name", "tensor_type", "storage_type", "safetensors", "aliases", "cast", "python_type")

    def __init__(self, name: str, np_dtype, rank: int, category: int, scalar_name: str, cpp_name: str,
                 safetensors: str, aliases: tuple = (), cast: str | None = None):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == 2
        self.is_signed = name not in ("uint8", "bool")
        self._rank = rank  # order inside a category (wider is larger)
        self._category = category  # 0 bool, 1 integer, 2 floating
        self.scalar_name = scalar_name
        self.cpp_name = cpp_name
        self.tensor_type = scalar_name + "Tensor"
        self.storage_type = scalar_name + "Storage"
        self.safetensors = safetensors
        self.aliases = aliases
        self.cast = cast
        self.python_type = (builtins.bool, int, float)[category]

    @property
    def is_complex(self) -> bool:
        return False

    def to_real(self) -> "dtype":
        return self

    def __repr__(self) -> str:
        return f"tensorstein.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


#             name        NumPy           rank cat ScalarType  C++ name          safetensors aliases          cast
bool_ = dtype("bool", np.bool_, 0, 0, "Bool", "bool", "BOOL", (), "bool")
uint8 = dtype("uint8", np.uint8, 1, 1, "Byte", "unsigned char", "U8", (), "byte")
int8 = dtype("int8", np.int8, 1, 1, "Char", "signed char", "I8", (), "char")
int16 = dtype("int16", np.int16, 2, 1, "Short", "short int", "I16", ("short",), "short")
int32 = dtype("int32", np.int32, 3, 1, "Int", "int", "I32", ("int",), "int")
int64 = dtype("int64", np.int64, 4, 1, "Long", "long int", "I64", ("long",), "long")
float16 = dtype("float16", np.float16, 1, 2, "Half", "c10::Half", "F16", ("half",), "half")
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, 1, 2, "BFloat16", "c10::BFloat16", "BF16", (), "bfloat16")
float32 = dtype("float32", np.float32, 2, 2, "Float", "float", "F32", ("float",), "float")
float64 = dtype("float64", np.float64, 3, 2, "Double", "double", "F64", ("double",), "double")

ALL_DTYPES = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
# every lookup table is derived from the rows above
_BY_NP = {d.np: d for d in ALL_DTYPES}
_BY_NAME = {d.name: d for d in ALL_DTYPES}
BY_SCALAR_NAME = {d.scalar_name: d for d in ALL_DTYPES}
BY_TENSOR_TYPE = {d.tensor_type: d for d in ALL_DTYPES}
BY_STORAGE_TYPE = {d.storage_type: d for d in ALL_DTYPES}
BY_SAFETENSORS = {d.safetensors: d for d in ALL_DTYPES}
PUBLIC_NAMES = {**{d.name: d for d in ALL_DTYPES}, **{a: d for d in ALL_DTYPES for a in d.aliases}}
_INTS_BY_RANK = {1: int8, 2: int16, 3: int32, 4: int64}


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The tensorstein dtype of a NumPy dtype; raises TypeError for unsupported ones."""
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
            "float64, float32, float16, bfloat16, int64, int32, int16, int8, uint8, and bool."
        ) from None


# ---------------------------------------------------------------- default dtype
_default_float = float32


def get_default_dtype() -> dtype:
    """The dtype of floating tensors created from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(d: dtype) -> None:
    global _default_float
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


# ---------------------------------------------------------------- promotion
def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both a and b convert to without losing category."""
    if a is b:
        return a
    if a._category != b._category:
        return a if a._category > b._category else b
    if a._category == 2:
        if a._rank == b._rank:  # float16 with bfloat16
            return float32
        return a if a._rank > b._rank else b
    # integers: uint8 mixes with signed types by widening past it
    if a is uint8 or b is uint8:
        other = b if a is uint8 else a
        return int16 if other is int8 else other
    return a if a._rank > b._rank else b


_SCALARS = (builtins.bool, int, float, complex, np.generic)


def scalar_dtype(value) -> dtype:
    """The dtype torch gives a Python scalar wrapped as a tensor."""
    if isinstance(value, builtins.bool) or isinstance(value, np.bool_):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return _default_float
    if isinstance(value, complex):
        raise TypeError("complex numbers are not supported by tensorstein")
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


def result_type(*operands) -> dtype:
    """torch.result_type: promotion over tensors and Python scalars.

    >>> result_type(int8, 2.5)
    tensorstein.float32

    Three priority groups: tensors with dimensions, 0-d tensors, then Python scalars.
    A lower group only changes the result when its category (bool < int < float) is higher.
    """
    groups: list[dtype | None] = [None, None, None]
    d: dtype
    for op in operands:
        if isinstance(op, dtype):
            d, g = op, 0
        elif isinstance(op, _SCALARS):
            d, g = scalar_dtype(op), 2
        else:  # a Tensor, duck-typed: this module sits below ``_tensor``
            td = getattr(op, "dtype", None)
            d = td if isinstance(td, dtype) else scalar_dtype(op)  # raises: not a tensor, dtype or scalar
            g = 0 if op.ndim else 1
        prev = groups[g]
        groups[g] = d if prev is None else promote_types(prev, d)
    out = _combine_groups(groups[0], _combine_groups(groups[1], groups[2]))
    if out is None:
        raise TypeError("result_type needs at least one operand")
    return out


def _combine_groups(higher: dtype | None, lower: dtype | None) -> dtype | None:
    if higher is None:
        return lower
    if lower is None or lower._category <= higher._category:
        return higher
    # lower group is of a higher category: its kind wins; an integer/bool with a float scalar
    # gives that float type, bool with an int gives the int type
    return lower


# ---------------------------------------------------------------- iinfo / finfo
class iinfo:
    """Machine limits of an integer dtype: ``iinfo(int8).max == 127``."""

    def __init__(self, d: dtype):
        if not isinstance(d, dtype) or d._category == 2:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle '%s'" % (
                getattr(d, "name", d)))
        info = np.iinfo(d.np) if d is not bool_ else None
        self.bits = d.itemsize * 8
        self.min = int(info.min) if info else 0
        self.max = int(info.max) if info else 1
        self.dtype = d.name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


class finfo:
    """Machine limits of a floating dtype: ``finfo(float16).max == 65504.0``."""

    def __init__(self, d: dtype | None = None):
        d = _default_float if d is None else d
        if not isinstance(d, dtype) or not d.is_floating_point:
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle '%s'" % (
                getattr(d, "name", d)))
        info = ml_dtypes.finfo(d.np) if d is bfloat16 else np.finfo(d.np)
        self.bits = d.itemsize * 8
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = float(info.tiny)
        self.smallest_normal = self.tiny
        self.resolution = 10.0 ** -int(info.precision)  # torch: 10 ** -precision
        self.dtype = d.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.tiny:g}, tiny={self.tiny:g}, dtype={self.dtype})")
