"""``tensorstein.cpu``: the CPU device module (always available).

>>> import tensorstein as torch
>>> torch.cpu.is_available()
True
"""
from . import amp  # noqa: F401


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def synchronize(device=None) -> None:
    """CPU work is synchronous."""
