"""``tensorstein.save`` / ``tensorstein.load``: checkpoints of tensorstein Tensors.

* ``save(state_dict, path)`` writes a flat ``{name: Tensor}`` dict (a state dict) in the
  safetensors format, whatever the file name.
* ``save(obj, path)`` for anything nested (an optimizer state dict, a checkpoint with an
  epoch number, ...) writes PyTorch's zip checkpoint format (the one ``torch.save`` writes),
  produced without torch: real PyTorch can read it with ``torch.load(path, weights_only=True)``.
  ``obj`` may nest dicts, lists, tuples, numbers, strings and Tensors.
* Both are written to a temporary file and renamed, so a crash never leaves half a file.
* ``load(path)`` reads either format (and legacy, non-zip torch files) with the
  restricted unpickler of :mod:`._torch_pickle`: no code in the file runs.
  Tensors come back as tensorstein Tensors.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from typing import Any

import ml_dtypes
import numpy as np

from ._safetensors import load_file as _st_load
from ._safetensors import atomic_write
from ._safetensors import save_file as _st_save
from ._torch_pickle import load_torch_file

__all__ = ["save", "load"]

_STORAGE_NAMES = {
    np.dtype(np.float64): "DoubleStorage",
    np.dtype(np.float32): "FloatStorage",
    np.dtype(np.float16): "HalfStorage",
    np.dtype(ml_dtypes.bfloat16): "BFloat16Storage",
    np.dtype(np.int64): "LongStorage",
    np.dtype(np.int32): "IntStorage",
    np.dtype(np.int16): "ShortStorage",
    np.dtype(np.int8): "CharStorage",
    np.dtype(np.uint8): "ByteStorage",
    np.dtype(np.bool_): "BoolStorage",
    np.dtype(np.complex64): "ComplexFloatStorage",
    np.dtype(np.complex128): "ComplexDoubleStorage",
}


def _tensor_type():
    from .._tensor import Tensor

    return Tensor


class _Global:
    """Pickled as ``GLOBAL module name`` without importing ``module``."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module = module
        self.name = name

    def __call__(self, *args):  # never called; pickle only requires a callable
        raise RuntimeError(f"{self.module}.{self.name} is a placeholder")


class _StorageRef:
    __slots__ = ("key", "storage_name", "numel")

    def __init__(self, key: str, storage_name: str, numel: int):
        self.key = key
        self.storage_name = storage_name
        self.numel = numel


class _TensorRecord:
    __slots__ = ("storage", "shape", "stride", "requires_grad")

    def __init__(self, storage, shape, stride, requires_grad):
        self.storage = storage
        self.shape = shape
        self.stride = stride
        self.requires_grad = requires_grad


class _Pickler(pickle._Pickler):  # the pure-Python pickler lets us emit GLOBALs ourselves
    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, tensor_type):
        super().__init__(file, protocol=2)
        self._tensor_type = tensor_type
        self.storages: dict[str, np.ndarray] = {}

    def _save_global_ref(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))

    dispatch[_Global] = _save_global_ref

    def _save_tensor_record(self, rec: "_TensorRecord") -> None:
        args = (rec.storage, 0, tuple(rec.shape), tuple(rec.stride), rec.requires_grad, collections.OrderedDict())
        self.save_reduce(_Global("torch._utils", "_rebuild_tensor_v2"), args, obj=rec)

    dispatch[_TensorRecord] = _save_tensor_record

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", _Global("torch", obj.storage_name), obj.key, "cpu", obj.numel)
        return None

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, self._tensor_type):
            obj = self._record(obj)
        elif isinstance(obj, np.ndarray):
            raise TypeError("save() stores tensorstein Tensors; wrap NumPy arrays with tensorstein.from_numpy")
        super().save(obj, save_persistent_id)

    def _record(self, t) -> _TensorRecord:
        arr = np.ascontiguousarray(t.detach().numpy())
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        name = _STORAGE_NAMES.get(arr.dtype)
        if name is None:
            raise TypeError(f"cannot save a tensor of dtype {arr.dtype}")
        key = str(len(self.storages))
        self.storages[key] = arr
        stride, acc = [], 1
        for n in reversed(arr.shape):
            stride.append(acc)
            acc *= max(n, 1)
        return _TensorRecord(_StorageRef(key, name, arr.size), arr.shape, tuple(reversed(stride)),
                             bool(getattr(t, "requires_grad", False)))


def save(obj: Any, f: str | os.PathLike) -> None:
    """Save ``obj`` (Tensors, possibly inside dicts/lists) to ``f`` atomically."""
    path = os.fspath(f)
    Tensor = _tensor_type()
    flat = isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and isinstance(v, Tensor)
                                                        for k, v in obj.items())
    if flat or path.endswith(".safetensors"):
        if not flat:
            raise TypeError("a .safetensors file holds a flat dict of {str: Tensor}")
        _st_save({k: v.detach().numpy() for k, v in obj.items()}, path)
        return
    buf = io.BytesIO()
    pickler = _Pickler(buf, Tensor)
    pickler.dump(obj)
    prefix = os.path.splitext(os.path.basename(path))[0] or "archive"
    prefix = "".join(c if c.isalnum() or c in "_-" else "_" for c in prefix)

    def write(fh):
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(f"{prefix}/data.pkl", buf.getvalue())
            zf.writestr(f"{prefix}/byteorder", "little")
            for key, arr in pickler.storages.items():
                zf.writestr(f"{prefix}/data/{key}", arr.tobytes())
            zf.writestr(f"{prefix}/version", "3\n")

    atomic_write(path, write)


def _to_tensors(obj: Any) -> Any:
    from .._ops.creation import from_numpy

    if isinstance(obj, np.ndarray):
        return from_numpy(np.array(obj))  # owned, writable copy
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _to_tensors(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _to_tensors(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_tensors(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_to_tensors(v) for v in obj)
    return obj


def load(f: str | os.PathLike, map_location: Any = None, weights_only: bool = True) -> Any:
    """Load a file written by :func:`save`, ``torch.save`` or safetensors.

    Only data is loaded (``weights_only`` cannot be turned off: no code from
    the file is ever executed). ``map_location`` is accepted for API
    compatibility; everything lives on the CPU.
    """
    if weights_only is False:
        raise ValueError("tensorstein.load never unpickles arbitrary objects (weights_only=False is not supported)")
    path = os.fspath(f)
    with open(path, "rb") as fh:
        head = fh.read(9)
    if path.endswith(".safetensors") or (len(head) == 9 and head[8:9] == b"{"):
        return _to_tensors(_st_load(path, mmap=False))
    return _to_tensors(load_torch_file(path))
