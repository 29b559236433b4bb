"""Embedding backward as one Numba pass: gradient rows added into the table's rows in index order (the order
of ``np.add.at`` and of torch's CPU ``index_add_``, so the sums are the same bit for bit). ``np.add.at`` is the
oracle (and the path for dtypes Numba does not take).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, boundscheck=False)
def _scatter_add_rows(gw, idx, gd):
    for r in range(idx.size):
        dst = gw[idx[r]]
        src = gd[r]
        for c in range(src.size):
            dst[c] += src[c]


def scatter_add_rows(gw: np.ndarray, idx: np.ndarray, gd: np.ndarray) -> None:
    """``np.add.at(gw, idx, gd)`` for a 2-D float ``gw``, 1-D in-range ``idx`` and ``gd`` of shape (idx.size, D).

    >>> gw = np.zeros((3, 2), np.float32)
    >>> scatter_add_rows(gw, np.array([2, 0, 2]), np.ones((3, 2), np.float32))
    >>> gw[:, 0].tolist()
    [1.0, 0.0, 2.0]
    """
    if gw.dtype in (np.float32, np.float64) and gd.dtype == gw.dtype and gw.flags.c_contiguous:
        _scatter_add_rows(gw, idx, np.ascontiguousarray(gd))
    else:
        np.add.at(gw, idx, gd)
