"""Kernel modules loaded on first use, so ``import tensorstein`` never imports Numba.

>>> kernels("activations").__name__
'tensorstein._kernels.activations'
"""
from __future__ import annotations

import functools
import importlib
from types import ModuleType

PARALLEL_MIN = 32768  # elements: smaller work calls its kernel directly (elementwise_engine imports it from here)


@functools.cache
def kernels(name: str) -> ModuleType:
    """The module ``tensorstein._kernels.<name>`` (imported, and its Numba kernels loaded, once)."""
    return importlib.import_module(f"{__package__}.{name}")
