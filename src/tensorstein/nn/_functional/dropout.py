"""dropout (a random keep-mask scaled by ``1/(1-p)``) and alpha_dropout (eval only)."""
from __future__ import annotations

import numpy as np

from ..._ops import random as _random
from ..._tensor import Tensor


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training only)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    x = input._data
    if p == 1.0:
        mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        keep = _random.bernoulli_(Tensor._make(np.empty(x.shape, x.dtype)), 1.0 - p)._data  # torch's mask
        mask = keep / x.dtype.type(1.0 - p)
    m = Tensor._make(mask)
    if inplace:
        return input.mul_(m)
    return input * m


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    if not training or p == 0:
        return input
    raise NotImplementedError("alpha_dropout in training mode is not implemented in tensorstein")
