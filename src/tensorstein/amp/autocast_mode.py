"""``autocast``: matmul-family ops compute in bfloat16 (or float16) inside the block, on the CPU.

Only ``device_type="cpu"`` can be enabled (torch's CPU autocast); ``"cuda"`` warns and stays off, as
torch does on a machine without CUDA. The state is per thread and nests.

>>> import tensorstein as torch
>>> with autocast("cpu"):
...     torch.is_autocast_enabled("cpu")
True
"""
from __future__ import annotations

import functools
import warnings

from .. import _autocast
from .. import _dtype as D
from .._device import device as _device

_CPU_DTYPES = (D.bfloat16, D.float16)


def is_autocast_available(device_type: str) -> bool:
    return device_type == "cpu"


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether autocast is on in this thread for ``device_type`` (torch's default argument means CUDA)."""
    return device_type == "cpu" and _autocast.state().enabled


def get_autocast_dtype(device_type: str):
    if device_type != "cpu":
        return D.float16
    return _autocast.state().dtype or D.bfloat16


class autocast:
    """Context manager and decorator: ``with autocast("cpu"): ...`` or ``@autocast("cpu")``."""

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        kind = _device(device_type).type  # torch's error for an unknown device string
        self.device = kind
        self.fast_dtype = dtype if dtype is not None else get_autocast_dtype(kind)
        self._enabled = bool(enabled)
        if kind == "cuda" and self._enabled:
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", stacklevel=2)
            self._enabled = False
        elif kind == "cpu" and self._enabled and self.fast_dtype not in _CPU_DTYPES:
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                          "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                          stacklevel=2)
            self._enabled = False
        elif kind not in ("cpu", "cuda"):
            self._enabled = False
        self._saved = []

    def __enter__(self):
        if self.device != "cpu":
            return self
        s = _autocast.state()
        self._saved.append((s.enabled, s.dtype))
        s.enabled = self._enabled
        s.dtype = self.fast_dtype
        return self

    def __exit__(self, *exc):
        if self.device == "cpu":
            s = _autocast.state()
            s.enabled, s.dtype = self._saved.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled):
                return fn(*args, **kwargs)

        return wrapper
