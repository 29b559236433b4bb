"""``tensorstein.compile``: returns an equivalent callable that runs eagerly.

This is what torch's ``backend="eager"`` does: no graph capture and no code generation. A module comes back
wrapped like torch's ``OptimizedModule`` (its state dict keys gain the ``_orig_mod.`` prefix, as torch's do),
so checkpoints and code that strip that prefix keep working.

>>> import tensorstein as torch
>>> f = torch.compile(lambda x: x * 2)
>>> f(torch.tensor([1.0]))
tensor([2.])
"""
from __future__ import annotations

import functools

from .nn.modules.module import Module


class OptimizedModule(Module):
    """The module ``compile`` returns: calls go to ``_orig_mod``; attributes are looked up there too."""

    def __init__(self, mod: Module):
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor", mode=None,
            options=None, disable: bool = False):
    """Return ``model`` as an equivalent eager callable; usable as ``@compile`` or ``@compile(mode=...)``."""
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable)
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model)

    @functools.wraps(model)
    def compiled(*args, **kwargs):
        return model(*args, **kwargs)

    return compiled
