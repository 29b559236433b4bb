"""``torch.cpu.amp``: the deprecated spelling of ``tensorstein.amp.autocast("cpu")``.

>>> import tensorstein as torch
>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     with torch.cpu.amp.autocast():
...         torch.is_autocast_enabled("cpu")
True
"""
from __future__ import annotations

import warnings

from ..amp import GradScaler  # noqa: F401
from ..amp import autocast as _autocast


class autocast(_autocast):
    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True):
        warnings.warn("`torch.cpu.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cpu', args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
