"""``tensorstein.save`` / ``tensorstein.load``: checkpoints that torch reads and writes.

* ``save(obj, "x.safetensors")`` writes a flat ``{name: Tensor}`` dict in the safetensors format.
* ``save(obj, path)`` for any other name (``.pt``, ``.pth``, ``.bin``, ...) writes PyTorch's zip
  checkpoint format, produced without torch; ``torch.load(path, weights_only=True)`` reads it.
  ``obj`` may nest dict/OrderedDict/list/tuple/set/frozenset, None/str/bytes/int/float/bool/complex,
  Tensors (0-d included; Parameters stay Parameters), ``Size``, dtypes, devices and numeric NumPy
  arrays and scalars (written as NumPy pickles them: torch reads those with ``weights_only=False``
  or with NumPy in its safe globals). Anything else is refused, since ``load`` would not read it.
* Writes are atomic (see :mod:`._atomic`).
* ``load(path)`` reads both formats (and legacy, non-zip torch files) with the restricted unpickler
  of :mod:`._unpickler`: no code in the file runs; tensors come back as tensorstein Tensors that are
  views of their storage, as in torch.
"""

from __future__ import annotations

import codecs
import collections
import io
import os
import pickle
import zipfile
from typing import Any

import numpy as np

from ._atomic import atomic_write
from ._errors import fail
from ._safetensors import load_file as _st_load
from ._safetensors import save_file as _st_save
from ._torch_pickle import load_torch_file
from ._unpickler import STORAGE_DTYPES, TORCH_DTYPES, Factory

__all__ = ["load", "save"]

_STORAGE_NAMES = {dt: name for name, dt in STORAGE_DTYPES.items() if name != "UntypedStorage"}
_NP_CODES = {np.dtype(c) for c in "?bBhHiIlLqQefdFD"}
_PLAIN = (type(None), bool, int, float, complex, str, bytes, list, tuple, dict, collections.OrderedDict, set,
          frozenset)


class _Global:
    """Pickled as ``GLOBAL module name`` without importing ``module``."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):  # never called: pickle only requires a callable
        raise RuntimeError(f"{self.module}.{self.name} is a placeholder")


class _StorageRef:
    __slots__ = ("key", "numel", "storage_name")

    def __init__(self, key: str, storage_name: str, numel: int):
        self.key, self.storage_name, self.numel = key, storage_name, numel


class _Pickler(pickle._Pickler):
    """Protocol 2, as torch.save: tensors become ``_rebuild_tensor_v2`` records of zip storages."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, types: dict[str, type]):
        super().__init__(file, protocol=2)
        self.types = types
        self.storages: dict[str, np.ndarray] = {}
        self._records: dict[int, tuple] = {}
        self._np_globals = {np.ndarray, np.dtype, codecs.encode, set, frozenset, complex, collections.OrderedDict,
                            np.ndarray.__reduce__(np.zeros(0))[0], np.float32(0).__reduce__()[0]}

    def _save_global_ref(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

    dispatch[_Global] = _save_global_ref

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", _Global("torch", obj.storage_name), obj.key, "cpu", obj.numel)
        return None

    def save(self, obj, save_persistent_id=True):
        t = self.types
        if isinstance(obj, t["Tensor"]):
            obj = self._tensor_reduce(obj)
        elif isinstance(obj, t["Size"]):
            obj = _Reduce(_Global("torch", "Size"), (tuple(int(d) for d in obj),))
        elif isinstance(obj, t["dtype"]):
            obj = _Global("torch", obj.name)
        elif isinstance(obj, t["device"]):
            obj = _Reduce(_Global("torch", "device"), (obj.type if obj.index is None else f"{obj.type}:{obj.index}",))
        elif isinstance(obj, (np.ndarray, np.generic)):
            if obj.dtype not in _NP_CODES:
                raise TypeError(f"cannot save a NumPy {type(obj).__name__} of dtype {obj.dtype}: tensorstein.load "
                                "reads numeric NumPy data only (wrap it with tensorstein.from_numpy)")
            if obj.dtype.byteorder == ">":
                obj = obj.astype(obj.dtype.newbyteorder("="))
        elif isinstance(obj, np.dtype):
            if obj not in _NP_CODES:
                raise TypeError(f"cannot save NumPy dtype {obj}")
        elif not (type(obj) in _PLAIN or isinstance(obj, (_Global, _StorageRef, _Reduce))
                  or any(obj is g for g in self._np_globals)):
            raise TypeError(f"cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__}: "
                            "tensorstein.load reads back tensors, containers, numbers, strings, Size, dtype, device "
                            "and NumPy data only, and never runs code from a file")
        super().save(obj, save_persistent_id)

    def _save_reduce_obj(self, obj: _Reduce) -> None:
        self.save_reduce(obj.func, obj.args, obj=obj)

    def _tensor_reduce(self, t) -> _Reduce:
        hit = self._records.get(id(t))
        if hit is not None:
            return hit[1]
        arr = t.detach().numpy()
        if not arr.flags.c_contiguous:  # (np.ascontiguousarray would make a 0-d tensor 1-d)
            arr = arr.copy(order="C")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("="))
        name = _STORAGE_NAMES.get(arr.dtype)
        if name is None:
            raise TypeError(f"cannot save a tensor of dtype {arr.dtype}")
        key = str(len(self.storages))
        self.storages[key] = arr
        stride, acc = [], 1
        for n in reversed(arr.shape):
            stride.append(acc)
            acc *= max(n, 1)
        is_param = type(t).__name__ == "Parameter" and type(t) is not self.types["Tensor"]
        rec = _Reduce(_Global("torch._utils", "_rebuild_tensor_v2"),
                      (_StorageRef(key, name, arr.size), 0, tuple(arr.shape), tuple(reversed(stride)),
                       bool(t.requires_grad) and not is_param, collections.OrderedDict()))
        if is_param:
            rec = _Reduce(_Global("torch._utils", "_rebuild_parameter"),
                          (rec, bool(t.requires_grad), collections.OrderedDict()))
        self._records[id(t)] = (t, rec)  # the same Tensor object twice is one record (pickle memo)
        return rec


class _Reduce:
    __slots__ = ("args", "func")

    def __init__(self, func, args):
        self.func, self.args = func, args


_Pickler.dispatch[_Reduce] = _Pickler._save_reduce_obj


def _types() -> dict[str, type]:
    from .._device import device
    from .._dtype import dtype
    from .._tensor import Size, Tensor

    return {"Tensor": Tensor, "Size": Size, "dtype": dtype, "device": device}


def _write_zip(obj: Any, prefix: str, fh) -> None:
    buf = io.BytesIO()
    pickler = _Pickler(buf, _types())
    pickler.dump(obj)
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{prefix}/data.pkl", buf.getvalue())
        zf.writestr(f"{prefix}/byteorder", "little")
        for key, arr in pickler.storages.items():
            zf.writestr(f"{prefix}/data/{key}", arr.tobytes())
        zf.writestr(f"{prefix}/version", "3\n")


def save(obj: Any, f: Any) -> None:
    """Save ``obj`` to ``f`` (a path or a binary file): safetensors for ``*.safetensors``, else torch's zip.

    >>> tensorstein.save({"model": model.state_dict(), "iter_num": 5}, "ckpt.pt")  # doctest: +SKIP
    """
    if hasattr(f, "write") and not isinstance(f, (str, bytes, os.PathLike)):
        _write_zip(obj, "archive", f)
        return
    path = os.fspath(f)
    if path.endswith(".safetensors"):
        Tensor = _types()["Tensor"]
        if not (isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())):
            raise TypeError("a .safetensors file holds a flat dict of {str: Tensor}")
        _st_save({k: v.detach().numpy() for k, v in obj.items()}, path)
        return
    prefix = os.path.splitext(os.path.basename(path))[0] or "archive"
    prefix = "".join(c if c.isalnum() or c in "_-" else "_" for c in prefix)
    buf = io.BytesIO()
    _write_zip(obj, prefix, buf)  # pickle errors (TypeError) surface before the target is touched
    atomic_write(path, lambda fh: fh.write(buf.getbuffer()))


class _TensorFactory(Factory):
    """Builds tensorstein objects: Tensors sharing the storage's memory, Size, dtype, device."""

    def __init__(self, path: str):
        from .. import _dtype
        from .._device import device
        from .._tensor import Size, Tensor

        self.path, self._dtypes, self._device, self._size, self._tensor = path, _dtype, device, Size, Tensor

    def tensor(self, arr, requires_grad):
        try:
            self._dtypes.from_numpy_dtype(arr.dtype)
        except TypeError:
            raise fail(self.path, f"tensor dtype {arr.dtype} is not supported by tensorstein") from None
        t = self._tensor._make(arr)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def parameter(self, t, requires_grad):
        from ..nn.parameter import Parameter

        return Parameter(t, requires_grad=requires_grad)

    def size(self, dims):
        return self._size(dims)

    def dtype(self, name):
        np_dt = TORCH_DTYPES[name]
        try:
            return self._dtypes.from_numpy_dtype(np_dt)
        except TypeError:
            raise KeyError(name) from None

    def np_dtype(self, d):
        return d.np if isinstance(d, self._dtypes.dtype) else None

    def device(self, kind, index):
        return self._device(kind, index)


def load(f: Any, map_location: Any = None, weights_only: bool = True, mmap: Any = None) -> Any:
    """Load a file written by :func:`save`, ``torch.save`` or safetensors, never running code from it.

    ``weights_only`` cannot be turned off. ``map_location`` is accepted for API compatibility;
    everything lives on the CPU. Malformed files raise :class:`~tensorstein.io.CheckpointError`.

    >>> state = tensorstein.load("ckpt.pt")  # doctest: +SKIP
    """
    if weights_only is False:
        raise ValueError("tensorstein.load never unpickles arbitrary objects (weights_only=False is not supported)")
    path = os.fspath(f)
    with open(path, "rb") as fh:
        head = fh.read(9)
    factory = _TensorFactory(path)
    if path.endswith(".safetensors") or (len(head) == 9 and head[8:9] == b"{" and head[:4] != b"PK\x03\x04"):
        return {k: factory.tensor(v, False) for k, v in _st_load(path, mmap=False).items()}
    return load_torch_file(path, factory)
