"""``torch.accelerator``: tensorstein computes on the CPU, so there is no accelerator.

>>> import tensorstein as torch
>>> torch.accelerator.is_available(), torch.accelerator.current_accelerator()
(False, None)
"""
from __future__ import annotations

_NONE = "Cannot access accelerator device when none is available."


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def current_accelerator(check_available: bool = False):
    """The accelerator device, or None: there is none."""
    return None


def current_device_index() -> int:
    raise RuntimeError(_NONE)


current_device_idx = current_device_index


def set_device_index(device) -> None:
    raise RuntimeError(_NONE)


set_device_idx = set_device_index


def synchronize(device=None) -> None:
    raise RuntimeError(_NONE)
