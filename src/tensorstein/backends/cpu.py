"""``torch.backends.cpu``: which vector instruction set the CPU kernels can use.

>>> get_cpu_capability() in ("AVX512", "AVX2", "DEFAULT")
True
"""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def get_cpu_capability() -> str:
    """``"AVX512"``, ``"AVX2"`` or ``"DEFAULT"``, as torch names the level its CPU kernels dispatch to."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= set(flags):
        return "AVX512"
    if {"avx2", "fma"} <= set(flags):
        return "AVX2"
    return "DEFAULT"
