"""torch's randperm swaps for large ``n``: a sequential Fisher-Yates pass compiled by Numba (loaded lazily).

>>> import numpy as np
>>> fisher_yates(np.arange(3), np.array([2, 1], dtype=np.int64)).tolist()
[2, 1, 0]
"""
from __future__ import annotations

from numba import njit


@njit(nogil=True, cache=True)
def fisher_yates(perm, targets):
    """Swap ``perm[i]`` with ``perm[targets[i]]`` for i = 0, 1, ... in order (in place; returns ``perm``)."""
    for i in range(targets.shape[0]):
        j = targets[i]
        perm[i], perm[j] = perm[j], perm[i]
    return perm
