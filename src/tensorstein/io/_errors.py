"""The error types of checkpoint loading, and message helpers that never ``repr`` untrusted objects.

Every malformed, truncated, over-budget or unsupported checkpoint raises :class:`CheckpointError`
(a ``RuntimeError``, as torch's loader raises, and a ``ValueError`` for older callers); the message
names the file and the problem. A file that asks for code or objects outside the allow-list raises
:class:`UnsafeCheckpointError`, which is also a :class:`pickle.UnpicklingError`, torch's type for it.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

__all__ = ["CheckpointError", "UnsafeCheckpointError", "describe", "fmt_int"]


class CheckpointError(RuntimeError, ValueError):
    """A checkpoint file is corrupt, truncated, over a loading budget or of an unsupported layout.

    >>> raise CheckpointError("model.pt: storage 'archive/data/0' has 12 bytes, expected 16")
    Traceback (most recent call last):
    tensorstein.io._errors.CheckpointError: model.pt: storage 'archive/data/0' has 12 bytes, expected 16
    """


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint asks for a global, callable or object state outside the allow-list (nothing ran)."""


def fmt_int(n: Any) -> str:
    """``str(n)`` for ordinary ints; a short description for huge ones (no 4300-digit limit error)."""
    if isinstance(n, int) and -(10**18) < n < 10**18:
        return str(n)
    if isinstance(n, int):
        return f"a {n.bit_length()}-bit integer"
    return f"a {type(n).__name__}"


def describe(obj: Any) -> str:
    """A bounded description of an untrusted value: short strs/ints verbatim, else the type name."""
    if isinstance(obj, bool) or obj is None:
        return repr(obj)
    if isinstance(obj, int):
        return fmt_int(obj)
    if isinstance(obj, str):
        return repr(obj) if len(obj) <= 80 else f"a {len(obj)}-character str"
    return f"a {type(obj).__name__}"


def fail(path: Any, problem: str, unsafe: bool = False) -> CheckpointError:
    """The error for ``path`` (a str or os.PathLike) with ``problem``."""
    cls = UnsafeCheckpointError if unsafe else CheckpointError
    return cls(f"{os.fspath(path)}: {problem}")
