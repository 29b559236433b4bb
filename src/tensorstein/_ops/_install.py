"""Load every op module (each registers its ops at import) and install the registry on ``Tensor``.

``NAMESPACE`` is what ``tensorstein/__init__.py`` re-exports.

>>> NAMESPACE["add"] is OPS["add"].fn
True
"""
from __future__ import annotations

from .._tensor import Tensor
from . import comparison, creation, einsum, elementwise, extrema, indexing, linalg, reduction, shape, sorting, unary  # noqa: F401
from . import random as _random
from ._common import make_inplace, write_out
from ._registry import OPS, install, register  # noqa: F401 (OPS: the doctest)

for _name in ("rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like", "manual_seed",
              "seed", "initial_seed", "get_rng_state", "set_rng_state", "normal"):
    register(getattr(_random, _name), method=False, returns="Any" if "rng" in _name or "seed" in _name else None)
for _name in ("multinomial", "bernoulli"):
    register(getattr(_random, _name))
for _name in ("normal_", "uniform_", "random_", "bernoulli_", "exponential_"):
    register(getattr(_random, _name), function=False)

NAMESPACE = install(Tensor, make_inplace, write_out)
