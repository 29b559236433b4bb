"""``tensorstein.random``: the global CPU generator's controls, as ``torch.random``.

>>> import tensorstein as torch
>>> with torch.random.fork_rng():
...     _ = torch.rand(3)   # the global stream is restored on exit
"""
from __future__ import annotations

import contextlib

from ._ops.random import (  # noqa: F401
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state,
)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type=None):
    """Restore the CPU generator's state on exit (there are no accelerator generators to fork)."""
    if not enabled or device_type == "meta":
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
