"""Kernel modules loaded on first use, so ``import tensorstein`` never imports Numba.

>>> kernels("activations").__name__
'tensorstein._kernels.activations'
"""
from __future__ import annotations

import functools
import importlib
from types import ModuleType

PARALLEL_MIN = 32768  # elements: smaller work calls its kernel directly (elementwise_engine imports it from here)
# Cheap kernels split over threads only from larger sizes: these multiples of PARALLEL_MIN (a team launch costs
# ~1.5-2 µs with its set-up through native_parallel.launch_new, ~3-5 µs through launch; measured where one and two
# threads break even, 2-core Zen 5).
LIGHT = 2  # one stream in, one out, a few flops (relu, clamp, x * x, x * s): ~45 ps per element
STREAMS = 2  # two streams in, one out (x + y, a backward g * f(x)): ~95 ps per element
REDUCE_MIN = 8 * PARALLEL_MIN  # elements: reductions, which only read (~20 ps per element)


@functools.cache
def kernels(name: str) -> ModuleType:
    """The module ``tensorstein._kernels.<name>`` (imported, and its Numba kernels loaded, once)."""
    return importlib.import_module(f"{__package__}.{name}")
