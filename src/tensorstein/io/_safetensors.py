"""Reading and writing the safetensors format with NumPy only.

The format is simple enough to parse directly, which lets us support every
dtype the format knows (including ``BF16`` and the float8 types through
:mod:`ml_dtypes`) and memory-map the file instead of copying it::

    [8 bytes]  N: header length, unsigned little-endian 64-bit integer
    [N bytes]  JSON header: {"name": {"dtype": "F32", "shape": [2, 3],
                                      "data_offsets": [begin, end]}, ...,
                             "__metadata__": {"key": "value"}}
    [rest]     raw little-endian tensor bytes; offsets are relative to here

Reading validates the header with the ``safetensors`` library itself (so a file loads exactly when
that library accepts it) and raises :class:`SafetensorsError`, a :class:`~._errors.CheckpointError`.
Writing goes to a temporary file in the destination directory which is then
``os.replace``-d over the target, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import ml_dtypes
import numpy as np

from ._atomic import atomic_write
from ._errors import CheckpointError

__all__ = [
    "SafetensorsError",
    "load_file",
    "read_header",
    "read_metadata",
    "save_file",
]

# The header of a real file is a few hundred KiB at most; refuse absurd sizes
# early instead of trying to allocate them (a corrupt length field).
_MAX_HEADER_BYTES = 100 * 1024 * 1024

_ST_TO_NP: dict[str, np.dtype] = {
    "F64": np.dtype(np.float64),
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "I64": np.dtype(np.int64),
    "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16),
    "I8": np.dtype(np.int8),
    "U64": np.dtype(np.uint64),
    "U32": np.dtype(np.uint32),
    "U16": np.dtype(np.uint16),
    "U8": np.dtype(np.uint8),
    "BOOL": np.dtype(np.bool_),
    "C64": np.dtype(np.complex64),
}
_NP_TO_ST: dict[np.dtype, str] = {v: k for k, v in _ST_TO_NP.items()}


class SafetensorsError(CheckpointError):
    """A safetensors file is truncated or corrupt (the safetensors library would reject it), or cannot be written."""


def _fail(path: Any, problem: str) -> SafetensorsError:
    return SafetensorsError(f"{os.fspath(path)!s}: not a valid safetensors file: {problem}")


_HINTS = {
    "incomplete metadata": " (file truncated, or trailing bytes after the last tensor)",
    "invalid offset": " (tensor data must be contiguous from offset 0: no gaps, no overlaps)",
    "overflow": " (shape too large)",
    "invalid JSON": " (header JSON does not match the safetensors schema)",
}


def _validate(path: Any, file_size: int, head8: bytes) -> None:
    """Framing checks with our own messages, then the safetensors library's full header validation
    (int64/u64 size overflow, contiguous non-overlapping offsets from 0, no trailing bytes, the JSON
    schema): a file loads here exactly when the reference implementation accepts it."""
    if len(head8) < 8:
        raise _fail(path, f"file is only {file_size} bytes long (too short to hold the 8-byte header length)")
    n = int.from_bytes(head8, "little")
    if n > file_size - 8:
        raise _fail(
            path,
            f"header length field says {n} bytes but only {file_size - 8} bytes follow "
            "(file truncated or not a safetensors file)",
        )
    if n > _MAX_HEADER_BYTES:
        raise _fail(path, f"header length {n} is implausibly large (corrupt file?)")
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(os.fspath(path), framework="numpy"):
            pass
    except SafetensorError as exc:
        msg = str(exc).replace("Error while deserializing header: ", "")[:300]
        hint = next((h for key, h in _HINTS.items() if key in msg), "")
        raise _fail(path, f"{msg}{hint}") from None
    except (OSError, ValueError, TypeError) as exc:
        raise _fail(path, f"{type(exc).__name__}: {str(exc)[:200]}") from None


def _entries(path: Any, header: dict) -> dict[str, tuple[np.dtype, tuple[int, ...], int, int]]:
    out: dict[str, tuple[np.dtype, tuple[int, ...], int, int]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _ST_TO_NP.get(info["dtype"])
        if dtype is None:
            raise _fail(path, f"tensor {name!r} has unsupported dtype {info['dtype']!r}")
        begin, end = info["data_offsets"]
        out[name] = (dtype, tuple(info["shape"]), begin, end)
    return out


def read_header(path: str | os.PathLike) -> tuple[dict, int, int]:
    """Return ``(header_dict, data_start, file_size)`` of a file the safetensors library accepts."""
    try:
        file_size = os.path.getsize(path)
        with open(path, "rb") as f:
            head8 = f.read(8)
            _validate(path, file_size, head8)
            n = int.from_bytes(head8, "little")
            header = json.loads(f.read(n).decode("utf-8"))  # validated: plain ints, strings, one level
    except FileNotFoundError:
        raise FileNotFoundError(f"{os.fspath(path)}: no such safetensors file") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{os.fspath(path)}: is a directory, expected a .safetensors file") from None
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, SafetensorsError):
            raise
        raise _fail(path, f"header is not valid JSON ({str(exc)[:200]})") from None
    return header, 8 + n, file_size


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The free-form ``__metadata__`` string map of a safetensors file (may be empty)."""
    header, _, _ = read_header(path)
    return dict(header.get("__metadata__") or {})


def load_file(path: str | os.PathLike, mmap: bool = True) -> dict[str, np.ndarray]:
    """Load every tensor of a safetensors file as a NumPy array.

    With ``mmap=True`` (the default) the arrays are read-only views into a
    memory map of the file, so loading is instant and pages are read lazily;
    call ``.copy()`` on an array you need to modify. With ``mmap=False`` each
    array is an owned, writable copy and the file is closed afterwards.
    ``BF16`` tensors come back as :data:`ml_dtypes.bfloat16` arrays.
    """
    header, data_start, file_size = read_header(path)
    entries = _entries(path, header)
    result: dict[str, np.ndarray] = {}
    if not entries:
        return result
    if mmap:
        try:
            buf = np.memmap(path, dtype=np.uint8, mode="r", offset=data_start, shape=(file_size - data_start,))
        except ValueError:  # empty data section (only zero-size tensors)
            buf = np.zeros(0, dtype=np.uint8)
        for name, (dtype, shape, begin, end) in entries.items():
            arr = np.asarray(buf[begin:end]).view(dtype).reshape(shape)
            if sys.byteorder == "big" and dtype.itemsize > 1:
                arr = arr.byteswap().view(dtype.newbyteorder("<")).astype(dtype)
            result[name] = arr
        return result
    with open(path, "rb") as f:
        for name, (dtype, shape, begin, end) in entries.items():
            f.seek(data_start + begin)
            arr = np.empty(shape, dtype=dtype)  # read straight into the array: one copy, no temporaries
            got = f.readinto(memoryview(arr.reshape(-1).view(np.uint8))) if arr.nbytes else 0
            if got != end - begin:
                raise _fail(path, f"file truncated while reading tensor {name!r}")
            if sys.byteorder == "big" and dtype.itemsize > 1:
                arr = arr.byteswap()
            result[name] = arr
    return result


def _to_numpy(name: str, value: Any) -> np.ndarray:
    arr = value
    if not isinstance(arr, np.ndarray):
        # tensorstein Tensors (and anything with __array__ / .numpy()) are accepted.
        if hasattr(arr, "numpy") and callable(arr.numpy):
            arr = arr.numpy()
        arr = np.asarray(arr)
    if arr.dtype.byteorder == ">":  # non-native byte order: store little-endian values
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype not in _NP_TO_ST:
        raise SafetensorsError(f"cannot save tensor {name!r}: dtype {arr.dtype} has no safetensors equivalent")
    return arr


def save_file(
    tensors: Mapping[str, Any],
    path: str | os.PathLike,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``tensors`` (name -> array) to ``path`` in the safetensors format.

    The file is written to a temporary file next to ``path`` and atomically
    renamed into place, so readers never see a partial file.
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"save_file expects a mapping of name -> array, got {type(tensors).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {name!r}")
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is reserved and cannot be used as a tensor name")
        arrays[name] = _to_numpy(name, value)
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("metadata must map str to str")

    # Same layout as the reference implementation: largest alignment first,
    # then by name, so every tensor starts at a multiple of its itemsize.
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name in order:
        arr = arrays[name]
        header[name] = {
            "dtype": _NP_TO_ST[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)  # pad so the data section is 8-byte aligned

    def write(f):
        f.write(len(hbytes).to_bytes(8, "little"))
        f.write(hbytes)
        for name in order:
            arr = arrays[name]
            if sys.byteorder == "big" and arr.dtype.itemsize > 1:
                arr = arr.byteswap()
            f.write(np.ascontiguousarray(arr).tobytes(order="C"))

    atomic_write(os.fspath(path), write)
