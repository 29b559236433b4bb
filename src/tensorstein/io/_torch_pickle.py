"""Loading PyTorch checkpoints (``.bin`` / ``.pt`` / ``.pth``) without torch and without running code.

Two container formats are read:

* the zip format of ``torch.save`` since PyTorch 1.6::

      <name>/data.pkl         the pickle (see :mod:`._unpickler`)
      <name>/data/<key>       raw bytes of storage <key>, exactly numel * itemsize of them
      <name>/byteorder        "little" or "big" (optional)

* the legacy format (``_use_new_zipfile_serialization=False``): pickles of the magic number, the
  protocol version, system info, the object and the storage keys, then each storage as an int64
  element count and its raw bytes.

Budgets and checks, before anything large is allocated: a storage's zip entry must declare exactly
the size its record declares (torch's "record size" check), duplicate entry names are refused
(torch would read the first, other tools the last), a compressed entry may not claim more than
deflate's maximum ratio and inflates to exactly its declared size (zip bombs), a legacy storage
must fit in the rest of the file, and allocation failures are reported, not raised as MemoryError. Every failure
raises :class:`~._errors.CheckpointError` naming the file; a refused global or operation raises
:class:`~._errors.UnsafeCheckpointError` (also a :class:`pickle.UnpicklingError`).
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

from ._errors import CheckpointError, UnsafeCheckpointError, describe, fail
from ._unpickler import Factory, RestrictedUnpickler, unpickle

__all__ = ["CheckpointError", "TorchCheckpointError", "UnsafeCheckpointError", "load_state_dict", "load_torch_file"]

TorchCheckpointError = CheckpointError  # the historical name

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_DEFLATE_RATIO = 1100  # deflate cannot exceed ~1032:1
_CHUNK = 1 << 22


def _alloc(path: str, what: str, dtype: np.dtype, numel: int) -> np.ndarray:
    try:
        return np.empty(numel, dtype=dtype)
    except (MemoryError, ValueError):
        raise fail(path, f"not enough memory for {what} ({numel * dtype.itemsize} bytes)") from None


def _read_member(path: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: np.ndarray) -> None:
    """Inflate ``info`` into ``out`` (exactly its declared size; checked before)."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise fail(path, f"entry '{info.filename}' uses unsupported compression {info.compress_type}")
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise fail(path, f"entry '{info.filename}' is stored but its sizes disagree")
    if info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 64):
        raise fail(path, f"entry '{info.filename}' claims to inflate {info.compress_size} bytes to {info.file_size} "
                         "(beyond what deflate can do: corrupt or a zip bomb)")
    view = memoryview(out.reshape(-1).view(np.uint8))
    try:
        with zf.open(info) as fh:
            got = 0
            while got < len(view):
                n = fh.readinto(view[got:got + _CHUNK])  # bounded reads: no whole-entry temporary
                if not n:
                    break
                got += n
            if got != len(view) or fh.read(1):
                raise fail(path, f"entry '{info.filename}' is truncated or longer than declared")
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise fail(path, f"cannot read entry '{info.filename}' ({str(exc)[:200]})") from None


def _load_zip(path: str, factory: Factory) -> Any:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, NotImplementedError) as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise fail(path, f"corrupt or truncated zip checkpoint ({str(exc)[:200]})") from None
    with zf:
        infos = zf.infolist()
        by_name: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename in by_name:
                raise fail(path, f"duplicate zip entry '{info.filename[:200]}' (ambiguous checkpoint)")
            by_name[info.filename] = info
        if not infos or "/" not in infos[0].filename:
            raise fail(path, "zip file has no '<archive>/data.pkl'; not a torch.save checkpoint")
        prefix = infos[0].filename.split("/", 1)[0] + "/"  # as torch: the first entry names the archive
        pkl = by_name.get(prefix + "data.pkl")
        if pkl is None:
            raise fail(path, f"zip file has no '{prefix}data.pkl'; not a torch.save checkpoint")
        big = False
        order = by_name.get(prefix + "byteorder")
        if order is not None:
            if order.file_size > 16:
                raise fail(path, "byteorder record is too long")
            raw = np.empty(order.file_size, np.uint8)
            _read_member(path, zf, order, raw)
            text = raw.tobytes().decode("ascii", "replace")
            if text not in ("little", "big"):
                raise fail(path, f"unknown byte order {describe(text)} (expected 'little' or 'big')")
            big = text == "big"

        def load_storage(key: str, dtype: np.dtype, numel: int) -> np.ndarray:
            name = f"{prefix}data/{key}"
            info = by_name.get(name)
            if info is None:
                raise fail(path, f"storage record '{name}' is missing from the archive")
            need = numel * dtype.itemsize
            if info.file_size != need:
                raise fail(path, f"record size of '{name}' ({info.file_size} bytes) does not match expected size "
                                 f"({need} bytes = {numel} elements * {dtype.itemsize} bytes/element)")
            data = _alloc(path, f"storage '{name}'", dtype, numel)
            _read_member(path, zf, info, data)
            if big and dtype.itemsize > 1:
                data.byteswap(inplace=True)
            return data

        raw = _alloc(path, "the pickle", np.dtype(np.uint8), pkl.file_size)
        _read_member(path, zf, pkl, raw)
        u = RestrictedUnpickler(io.BytesIO(raw.tobytes()), path, factory, load_storage)
        u.big_endian = big
        return unpickle(u)


def _load_legacy(path: str, factory: Factory) -> Any:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        def plain() -> Any:
            return unpickle(RestrictedUnpickler(f, path, Factory(), None))

        magic = plain()
        if not (type(magic) is int and magic == _LEGACY_MAGIC):
            raise fail(path, "not a PyTorch checkpoint (bad magic number)")
        proto = plain()
        if not (type(proto) is int and proto == _LEGACY_PROTOCOL):
            raise fail(path, f"unsupported legacy protocol version {describe(proto)}")
        sys_info = plain()
        little = not (isinstance(sys_info, dict) and sys_info.get("little_endian", True) is False)
        start = f.tell()
        first = RestrictedUnpickler(f, path, factory, None)  # pass 1: sizes and types of storages
        unpickle(first)
        keys = plain()
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or len(set(keys)) != len(keys):
            raise fail(path, "corrupt legacy checkpoint (storage key list missing or malformed)")
        datas: dict[str, np.ndarray] = {}
        for key in keys:
            st = first.storages.get(key)
            if st is None:
                raise fail(path, f"storage {describe(key)} listed but never referenced")
            head = f.read(8)
            if len(head) != 8:
                raise fail(path, f"truncated before storage {describe(key)}")
            numel = struct.unpack("<q" if little else ">q", head)[0]
            if numel != st.numel:
                raise fail(path, f"storage {describe(key)} has wrong size: expected {st.numel} got {numel}")
            need = numel * st.dtype.itemsize
            if need > size - f.tell():
                raise fail(path, f"storage {describe(key)} truncated (needs {need} bytes, "
                                 f"{size - f.tell()} left in the file)")
            data = _alloc(path, f"storage {describe(key)}", st.dtype, numel)
            if need and f.readinto(memoryview(data.view(np.uint8))) != need:
                raise fail(path, f"storage {describe(key)} truncated")
            if not little and st.dtype.itemsize > 1:
                data.byteswap(inplace=True)
            datas[key] = data
        missing = set(first.storages) - set(datas)
        if missing:
            raise fail(path, f"storage {describe(min(missing))} is referenced but has no data")
        f.seek(start)
        second = RestrictedUnpickler(f, path, factory, lambda key, dtype, numel: datas[key])  # pass 2: the object
        second.big_endian = not little
        return unpickle(second)


def load_torch_file(path: str | os.PathLike, factory: Factory | None = None) -> Any:
    """Load any object ``torch.save`` wrote, with tensors as NumPy views of their storages.

    No torch import and no code execution. Raises :class:`CheckpointError` (a ``RuntimeError``)
    naming the file for anything malformed, :class:`UnsafeCheckpointError` (also a
    ``pickle.UnpicklingError``) for globals or operations outside the allow-list.

    >>> load_torch_file("pytorch_model.bin")["embeddings.word_embeddings.weight"].shape  # doctest: +SKIP
    (30522, 384)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, expected a .bin/.pt checkpoint file")
    factory = factory or Factory()
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise fail(path, "file is empty")
    if head == b"PK\x03\x04":
        return _load_zip(path, factory)
    if head[:1] == b"\x80":  # pickle protocol >= 2
        return _load_legacy(path, factory)
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError:
        is_zip = False
    if is_zip:
        return _load_zip(path, factory)
    raise fail(path, "not a PyTorch checkpoint (neither a zip archive nor a pickle)")


def _flatten(prefix: str, obj: Any, out: dict[str, np.ndarray], depth: int = 0) -> None:
    if isinstance(obj, np.ndarray):
        out[prefix] = obj
    elif isinstance(obj, dict) and depth < 8:
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out, depth + 1)


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load a checkpoint and return ``{parameter name: np.ndarray}`` (views of the file's storages).

    A plain state dict is returned as is. If the file holds a nested checkpoint
    (``{"state_dict": {...}, "epoch": 3}``, ``{"model": {...}}``), the ``state_dict``/``model``
    entry is used when present, otherwise arrays are flattened with dotted names (8 levels at
    most). Non-array entries are dropped.
    """
    obj = load_torch_file(path)
    if not isinstance(obj, dict):
        raise fail(path, f"checkpoint holds a {type(obj).__name__}, not a state dict")
    if not all(isinstance(v, np.ndarray) for v in obj.values()):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, np.ndarray) for v in inner.values()):
                obj = inner
                break
    out: dict[str, np.ndarray] = {}
    _flatten("", obj, out)
    return out
