"""Loading PyTorch checkpoints (``.bin`` / ``.pt`` / ``.pth``) without torch.

``torch.save`` writes a pickle whose tensors point at separately stored raw
buffers ("storages"). Unpickling normally imports torch and will call any
function the pickle names, which makes a checkpoint file executable code.
This module never imports torch and never calls what a file asks for: a
restricted :class:`pickle.Unpickler` resolves only an allow-list of names
(the tensor-rebuild records, storage types, ``OrderedDict``...) to our own
NumPy implementations and raises :class:`pickle.UnpicklingError` for
anything else (``os.system``, ``builtins.eval``, ``subprocess.Popen``...).

Two container formats are supported:

* the zip format written by ``torch.save`` since PyTorch 1.6::

      <name>/data.pkl         the pickle
      <name>/data/<key>       raw little-endian bytes of storage <key>
      <name>/byteorder        "little" or "big" (optional)

* the legacy format (``_use_new_zipfile_serialization=False``): consecutive
  pickles (magic number, protocol version, system info, the object, the list
  of storage keys) followed by each storage as an int64 element count and
  its raw bytes.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from typing import Any

import ml_dtypes
import numpy as np

__all__ = ["load_torch_file", "load_state_dict", "TorchCheckpointError"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


class TorchCheckpointError(ValueError):
    """A PyTorch checkpoint file is corrupt, truncated or of an unknown layout."""


_STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype(np.float64),
    "FloatStorage": np.dtype(np.float32),
    "HalfStorage": np.dtype(np.float16),
    "BFloat16Storage": np.dtype(ml_dtypes.bfloat16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
    "ComplexDoubleStorage": np.dtype(np.complex128),
    "ComplexFloatStorage": np.dtype(np.complex64),
    "UntypedStorage": np.dtype(np.uint8),
}

# torch.<name> dtype objects that can appear as arguments (_rebuild_tensor_v3).
_TORCH_DTYPES: dict[str, np.dtype] = {
    "float64": np.dtype(np.float64),
    "double": np.dtype(np.float64),
    "float32": np.dtype(np.float32),
    "float": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "half": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float8_e4m3fn": np.dtype(ml_dtypes.float8_e4m3fn),
    "float8_e5m2": np.dtype(ml_dtypes.float8_e5m2),
    "int64": np.dtype(np.int64),
    "long": np.dtype(np.int64),
    "int32": np.dtype(np.int32),
    "int": np.dtype(np.int32),
    "int16": np.dtype(np.int16),
    "short": np.dtype(np.int16),
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "uint16": np.dtype(np.uint16),
    "uint32": np.dtype(np.uint32),
    "uint64": np.dtype(np.uint64),
    "bool": np.dtype(np.bool_),
    "complex64": np.dtype(np.complex64),
    "complex128": np.dtype(np.complex128),
}


class _StorageType:
    """Stands in for ``torch.FloatStorage`` & co. inside the unpickler."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: np.dtype):
        self.name = name
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _Storage:
    """A flat buffer; ``data`` is filled in once the raw bytes have been read."""

    __slots__ = ("key", "dtype", "numel", "data")

    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key = key
        self.dtype = dtype
        self.numel = numel
        self.data: np.ndarray | None = None


class _PendingTensor:
    """A tensor whose storage may not have been read yet (legacy format)."""

    __slots__ = ("storage", "offset", "size", "stride", "dtype")

    def __init__(self, storage: Any, offset: int, size: Any, stride: Any, dtype: np.dtype | None = None):
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError(f"tensor record refers to {type(storage).__name__}, expected a storage")
        self.storage = storage
        self.offset = int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)
        self.dtype = dtype

    def materialize(self) -> np.ndarray:
        flat = self.storage.data
        if flat is None:
            raise TorchCheckpointError(f"storage {self.storage.key!r} was never read (corrupt checkpoint)")
        dtype = self.dtype if self.dtype is not None else flat.dtype
        if dtype != flat.dtype:  # _rebuild_tensor_v3: reinterpret untyped bytes
            flat = flat.view(np.uint8)
            if flat.size % dtype.itemsize:
                raise TorchCheckpointError(f"storage {self.storage.key!r} size does not fit dtype {dtype}")
            flat = flat.view(dtype)
        if not self.size:
            if self.offset >= flat.size:
                raise TorchCheckpointError(f"storage {self.storage.key!r} too small for a scalar at {self.offset}")
            return np.array(flat[self.offset])
        if any(s == 0 for s in self.size):
            return np.zeros(self.size, dtype=dtype)
        # Highest element index touched must be inside the storage.
        last = self.offset + sum((n - 1) * st for n, st in zip(self.size, self.stride))
        if self.offset < 0 or any(st < 0 for st in self.stride) or last >= flat.size:
            raise TorchCheckpointError(
                f"tensor view (offset {self.offset}, size {self.size}, stride {self.stride}) "
                f"runs past its storage of {flat.size} elements (corrupt checkpoint)"
            )
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.size,
            strides=tuple(st * item for st in self.stride),
            writeable=False,
        )
        return np.array(view, copy=True, order="C")


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _PendingTensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return _PendingTensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, dtype=None, metadata=None
):
    if dtype is not None and not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError(f"_rebuild_tensor_v3 got an unsupported dtype {dtype!r}")
    return _PendingTensor(storage, storage_offset, size, stride, dtype)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


def _rebuild_parameter_with_state(data, requires_grad=False, backward_hooks=None, state=None):
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    # Only reached if ``func`` itself passed the allow-list.
    return func(*args)


def _torch_size(*args):
    return tuple(*args) if len(args) == 1 else tuple(args)


def _torch_device(*args, **kwargs):
    return str(args[0]) if args else "cpu"


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Size"): _torch_size,
    ("torch", "device"): _torch_device,
    ("torch.nn.parameter", "Parameter"): _rebuild_parameter,
    ("torch", "Tensor"): "torch.Tensor",
    ("torch._tensor", "Tensor"): "torch.Tensor",
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): lambda s, enc="latin1": s.encode("latin1"),  # how protocol 2 stores bytes
}
for _name, _dt in _STORAGE_DTYPES.items():
    _ALLOWED[("torch", _name)] = _StorageType(_name, _dt)
    _ALLOWED[("torch.storage", _name)] = _StorageType(_name, _dt)
for _name, _dt in _TORCH_DTYPES.items():
    _ALLOWED[("torch", _name)] = _dt


class _RestrictedUnpickler(pickle._Unpickler):
    """Pure-Python unpickler (the pickle is small; tensor data lives elsewhere) so that,
    besides ``find_class``, the ``BUILD`` opcode can be restricted too: it may only set
    attributes on plain dicts (a state dict's ``_metadata``), never on the allowed
    functions or types themselves."""

    dispatch = pickle._Unpickler.dispatch.copy()

    def _load_build(self):
        target = self.stack[-2] if len(self.stack) >= 2 else None
        if not isinstance(target, dict) or isinstance(target, type):
            raise pickle.UnpicklingError(
                f"{self._path}: refusing to set state on {type(target).__name__} objects "
                "(only PyTorch tensor records are allowed; nothing was executed)"
            )
        pickle._Unpickler.load_build(self)

    dispatch[pickle.BUILD[0]] = _load_build

    def __init__(self, file, path: str, storage_loader):
        super().__init__(file, encoding="utf-8")
        self._path = path
        self._storage_loader = storage_loader
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        obj = _ALLOWED.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(
                f"{self._path}: refusing to load global '{module}.{name}': only PyTorch tensor records "
                "are allowed in checkpoints (the file may contain code; it was not executed)"
            )
        return obj

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid:
            raise pickle.UnpicklingError(f"{self._path}: unsupported persistent id {pid!r}")
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind != "storage" or len(pid) < 5:
            raise pickle.UnpicklingError(f"{self._path}: unsupported persistent record {kind!r}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"{self._path}: persistent record names {storage_type!r}, not a storage type")
        key = key.decode("ascii") if isinstance(key, bytes) else str(key)
        st = self.storages.get(key)
        if st is None:
            st = _Storage(key, storage_type.dtype, int(numel))
            self.storages[key] = st
            if self._storage_loader is not None:
                self._storage_loader(st)
        return st


def _materialize(obj: Any, memo: dict[int, Any]) -> Any:
    oid = id(obj)
    if oid in memo:
        return memo[oid]
    if isinstance(obj, _PendingTensor):
        out: Any = obj.materialize()
    elif isinstance(obj, dict):
        out = obj  # mutate in place: keeps OrderedDict type and attributes
        memo[oid] = out
        for k in list(obj.keys()):
            obj[k] = _materialize(obj[k], memo)
        return out
    elif isinstance(obj, list):
        out = obj
        memo[oid] = out
        for i, v in enumerate(obj):
            obj[i] = _materialize(v, memo)
        return out
    elif isinstance(obj, tuple):
        out = tuple(_materialize(v, memo) for v in obj)
    elif isinstance(obj, _Storage):
        out = obj.data
    else:
        out = obj
    memo[oid] = out
    return out


def _raw_to_array(raw: bytes, dtype: np.dtype, big_endian: bool) -> np.ndarray:
    arr = np.frombuffer(raw, dtype=np.uint8)
    n = arr.size // dtype.itemsize
    arr = arr[: n * dtype.itemsize].view(dtype)
    if big_endian and dtype.itemsize > 1:
        arr = arr.byteswap()
    return arr


def _load_zip(path: str) -> Any:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise TorchCheckpointError(f"{path}: corrupt or truncated zip checkpoint ({exc})") from None
    with zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pkl:
            raise TorchCheckpointError(f"{path}: zip file has no '<archive>/data.pkl'; not a torch.save checkpoint")
        prefix = pkl[0][: -len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = zf.read(prefix + "byteorder").decode("ascii", "replace").strip()
        big = byteorder == "big"
        name_set = set(names)

        def load_storage(st: _Storage) -> None:
            member = f"{prefix}data/{st.key}"
            if member not in name_set:
                raise TorchCheckpointError(f"{path}: storage record '{member}' is missing from the archive")
            try:
                raw = zf.read(member)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise TorchCheckpointError(f"{path}: cannot read storage '{member}' ({exc})") from None
            need = st.numel * st.dtype.itemsize
            if len(raw) < need:
                raise TorchCheckpointError(
                    f"{path}: storage '{member}' has {len(raw)} bytes, expected {need} (truncated)"
                )
            st.data = _raw_to_array(raw, st.dtype, big)

        try:
            data = zf.read(pkl[0])
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise TorchCheckpointError(f"{path}: cannot read {pkl[0]} ({exc})") from None
        unpickler = _RestrictedUnpickler(io.BytesIO(data), path, load_storage)
        obj = _unpickle(unpickler, path)
        return _materialize(obj, {})


def _unpickle(unpickler: pickle.Unpickler, path: str) -> Any:
    try:
        return unpickler.load()
    except pickle.UnpicklingError:
        raise
    except TorchCheckpointError:
        raise
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error) as exc:
        raise TorchCheckpointError(f"{path}: corrupt or truncated checkpoint pickle ({type(exc).__name__}: {exc})") from None


def _load_legacy(path: str) -> Any:
    with open(path, "rb") as f:
        def plain_load() -> Any:
            u = _RestrictedUnpickler(f, path, None)
            return _unpickle(u, path)

        magic = plain_load()
        if magic != _LEGACY_MAGIC:
            raise TorchCheckpointError(f"{path}: not a PyTorch checkpoint (bad magic number)")
        proto = plain_load()
        if proto != _LEGACY_PROTOCOL:
            raise TorchCheckpointError(f"{path}: unsupported legacy protocol version {proto!r}")
        sys_info = plain_load()
        little = True
        if isinstance(sys_info, dict):
            little = bool(sys_info.get("little_endian", True))
        main = _RestrictedUnpickler(f, path, None)
        obj = _unpickle(main, path)
        keys = plain_load()
        if not isinstance(keys, list):
            raise TorchCheckpointError(f"{path}: corrupt legacy checkpoint (storage key list missing)")
        for key in keys:
            key = key.decode("ascii") if isinstance(key, bytes) else str(key)
            st = main.storages.get(key)
            if st is None:
                raise TorchCheckpointError(f"{path}: storage {key!r} listed but never referenced")
            head = f.read(8)
            if len(head) != 8:
                raise TorchCheckpointError(f"{path}: truncated before storage {key!r}")
            numel = struct.unpack("<q" if little else ">q", head)[0]
            need = numel * st.dtype.itemsize
            raw = f.read(need)
            if numel < 0 or len(raw) != need:
                raise TorchCheckpointError(f"{path}: storage {key!r} truncated ({len(raw)} of {need} bytes)")
            st.data = _raw_to_array(raw, st.dtype, not little)
    return _materialize(obj, {})


def load_torch_file(path: str | os.PathLike) -> Any:
    """Load any object ``torch.save`` wrote, with tensors as NumPy arrays.

    No torch import and no code execution: unknown globals raise
    :class:`pickle.UnpicklingError`. Corrupt/truncated files raise
    :class:`TorchCheckpointError` (a ``ValueError``) naming the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, expected a .bin/.pt checkpoint file")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise TorchCheckpointError(f"{path}: file is empty")
    if head == b"PK\x03\x04":
        return _load_zip(path)
    if head[:1] == b"\x80":  # pickle protocol >= 2
        return _load_legacy(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    raise TorchCheckpointError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle)")


def _flatten(prefix: str, obj: Any, out: dict[str, np.ndarray]) -> None:
    if isinstance(obj, np.ndarray):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load a checkpoint and return ``{parameter name: np.ndarray}``.

    A plain state dict is returned as is. If the file holds a nested
    checkpoint (``{"state_dict": {...}, "epoch": 3}``, ``{"model": {...}}``),
    the ``state_dict``/``model`` entry is used when present, otherwise all
    arrays are flattened with dotted names. Non-array entries are dropped.
    """
    obj = load_torch_file(path)
    if not isinstance(obj, dict):
        raise TorchCheckpointError(f"{os.fspath(path)}: checkpoint holds a {type(obj).__name__}, not a state dict")
    if not all(isinstance(v, np.ndarray) for v in obj.values()):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, np.ndarray) for v in inner.values()):
                obj = inner
                break
    out: dict[str, np.ndarray] = {}
    _flatten("", obj, out)
    return out
