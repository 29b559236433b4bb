"""Functions generated from a template for one Numba kernel, named so that Numba caches them beside it.

Numba's cache of a function lives with its source file and is checked against that file's time stamp only;
a generated function borrows the kernel's file, so an edit of the kernel invalidates it, and carries the
checksum of its own source (and of anything else it depends on, ``salt``) in its name, so an edit of the
template does too.

>>> from numba import njit
>>> @njit
... def twice(x):
...     return 2 * x
>>> f = generated(twice, "def f(x):\\n    return KERNEL(x) + 1\\n", "plus1", {"KERNEL": twice})
>>> f(3), f.__name__.startswith("twice_plus1_")
(7, True)
"""
from __future__ import annotations

import types
import zlib

__all__ = ["cached", "generated"]


def generated(kernel, source: str, label: str, namespace: dict, salt: int = 0):
    """The one function defined in ``source`` (its globals: ``kernel``'s module and ``namespace``), named
    ``<kernel>_<label>_<checksum>`` and placed in ``kernel``'s file, ready for ``njit(cache=...)``."""
    py = kernel.py_func
    scope = dict(namespace)
    exec(source, scope)  # noqa: S102 - generated from a fixed template
    code = scope[source[4:source.index("(")]].__code__
    name = f"{py.__name__}_{label}_{zlib.crc32(source.encode(), salt):08x}"
    qualname = py.__qualname__.rsplit(".", 1)[0] + "." + name if "." in py.__qualname__ else name
    replace = {"co_filename": py.__code__.co_filename, "co_name": name, "co_firstlineno": py.__code__.co_firstlineno}
    if hasattr(code, "co_qualname"):  # Python 3.11+
        replace["co_qualname"] = qualname
    fn = types.FunctionType(code.replace(**replace), {**py.__globals__, **namespace}, name)
    fn.__qualname__ = qualname
    fn.__module__ = py.__module__
    return fn


def cached(kernel) -> bool:
    """Whether ``kernel`` caches its compiled code (then what is generated beside it does too)."""
    return type(getattr(kernel, "_cache", None)).__name__ not in ("NullCache", "NoneType")
