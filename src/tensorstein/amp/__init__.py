"""``tensorstein.amp``: automatic mixed precision on the CPU (``autocast`` with bfloat16, ``GradScaler``).

>>> import tensorstein as torch
>>> with torch.autocast("cpu"):
...     (torch.ones(2, 3) @ torch.ones(3, 2)).dtype
tensorstein.bfloat16
"""
from .autocast_mode import autocast, get_autocast_dtype, is_autocast_available, is_autocast_enabled  # noqa: F401
from .grad_scaler import GradScaler  # noqa: F401

__all__ = ["autocast", "GradScaler", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype"]
