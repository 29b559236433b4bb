"""``tensorstein.cuda``: there is never a CUDA device; the queries answer as torch's do without one.

>>> import tensorstein as torch
>>> torch.cuda.is_available(), torch.cuda.device_count()
(False, 0)
"""
from __future__ import annotations

from . import amp  # noqa: F401

_NOT_COMPILED = "Torch not compiled with CUDA enabled"


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Seeding CUDA without CUDA does nothing, as in torch."""


manual_seed_all = manual_seed


def synchronize(device=None) -> None:
    """Nothing to wait for without CUDA."""


def empty_cache() -> None:
    """No CUDA cache to empty."""


def current_device() -> int:
    raise AssertionError(_NOT_COMPILED)


def set_device(device) -> None:
    raise AssertionError(_NOT_COMPILED)


def get_device_name(device=None) -> str:
    raise AssertionError(_NOT_COMPILED)
