"""``torch.backends.cudnn``: not available on the CPU; the switches are kept so programs that set them run.

>>> is_available(), version()
(False, None)
"""
from __future__ import annotations

import contextlib

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version():
    return None


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
    """Set the switches for the duration of a ``with`` block, as torch's ``cudnn.flags``."""
    names = ("enabled", "benchmark", "deterministic", "allow_tf32")
    module = globals()
    before = {n: module[n] for n in names}
    module.update(enabled=enabled, benchmark=benchmark, deterministic=deterministic, allow_tf32=allow_tf32)
    try:
        yield
    finally:
        module.update(before)
