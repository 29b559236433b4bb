"""Numba tile kernels of the flash attention shared by the BLAS and micro-kernel paths.

Every kernel works in place on one tile of one (batch, head): masking, the
online-softmax update of the forward, the probability recomputation and
``dS = P * (dP - D)`` of the backward.  Scores ``s`` are ``(rows, keys)``;
index masking follows :mod:`.attention_common` (key ``j`` visible to query
``i`` iff ``-left <= j - i - off <= right``).

    >>> import numpy as np
    >>> p = np.ones((1, 2), np.float32); dp = np.full((1, 2), 3, np.float32)
    >>> bwd_dscores(p, dp, np.ones(1, np.float32)); dp.tolist()
    [[2.0, 2.0]]
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .fast_exp import FASTMATH, exp_sub_sum, fast_exp_neg, row_max

__all__ = ["fwd_tile", "add_inplace", "fwd_finalize", "bwd_probs", "bwd_dscores", "rowdot"]


@njit(fastmath=FASTMATH, cache=True, nogil=True, error_model="numpy", boundscheck=False)
def fwd_tile(s, m, l, acc, b, h, i0, j0, off, left, right, need_idx, mask, mask_is_bool,
             ninf, zero, rowmax=None):
    """Mask the score tile ``s`` in place, update running max ``m`` / sum ``l``,
    rescale the accumulator ``acc`` and leave the unnormalised probabilities
    in ``s``.

    Rows whose running max is still ``-inf`` (first key block, or nothing
    visible yet) skip the rescale: their ``acc`` row is about to be
    overwritten (first block) or is exactly 0.  Band-masked entries are
    zeroed by ranges, never exponentiated.  ``rowmax`` (rows, k): per-row
    partial maxima of the whole row, used instead of a max pass on tiles
    without masking."""
    nr, nc = s.shape
    nv = acc.shape[1]
    for r in range(nr):
        i = i0 + r
        row = s[r]
        lo = 0
        hi = nc
        if need_idx:
            lo = min(max(i + off - left - j0, 0), nc)
            hi = max(min(i + off + right - j0 + 1, nc), lo)
            for c in range(lo):
                row[c] = zero
            for c in range(hi, nc):
                row[c] = zero
        if mask is not None:
            if mask_is_bool:
                for c in range(lo, hi):
                    if not mask[b, h, i, j0 + c]:
                        row[c] = ninf
            else:
                for c in range(lo, hi):
                    row[c] += mask[b, h, i, j0 + c]
        # loops over a slice, not range(lo, hi): the latter does not vectorise
        sub = row[lo:hi]
        if rowmax is not None and not need_idx and mask is None:
            # maxima already folded in by the score kernel (all columns visible)
            mx = rowmax[r, 0]
            for c in range(1, rowmax.shape[1]):
                x = rowmax[r, c]
                mx = x if x > mx else mx
        else:
            mx = row_max(sub)
        m_old = m[r]
        m_new = max(m_old, mx)
        if m_new == ninf:
            sub[:] = zero
            continue
        ssum = exp_sub_sum(sub, m_new)
        m[r] = m_new
        if m_old == ninf:
            l[r] = ssum
        else:
            alpha = fast_exp_neg(m_old - m_new)
            l[r] = l[r] * alpha + ssum
            if alpha != 1:
                for c in range(nv):
                    acc[r, c] *= alpha


@njit(fastmath=FASTMATH, cache=True, nogil=True)
def add_inplace(a, b):
    for r in range(a.shape[0]):
        for c in range(a.shape[1]):
            a[r, c] += b[r, c]


@njit(fastmath=FASTMATH, cache=True, nogil=True)
def fwd_finalize(acc, m, l, lse, ninf, zero):
    for r in range(acc.shape[0]):
        if l[r] > 0:
            inv = 1 / l[r]
            for c in range(acc.shape[1]):
                acc[r, c] *= inv
            lse[r] = m[r] + np.log(l[r])
        else:
            for c in range(acc.shape[1]):
                acc[r, c] = zero
            lse[r] = ninf


@njit(fastmath=FASTMATH, cache=True, nogil=True, error_model="numpy", boundscheck=False)
def bwd_probs(s, lse, b, h, i0, j0, off, left, right, need_idx, mask, mask_is_bool, ninf, zero):
    """Turn the score tile ``s`` into probabilities ``exp(s - lse)`` in place
    (band-masked entries zeroed by ranges, never read)."""
    nr, nc = s.shape
    for r in range(nr):
        i = i0 + r
        row = s[r]
        lo = 0
        hi = nc
        if need_idx:
            lo = min(max(i + off - left - j0, 0), nc)
            hi = max(min(i + off + right - j0 + 1, nc), lo)
            row[:lo] = zero
            row[hi:] = zero
        sub = row[lo:hi]
        if mask is not None:
            if mask_is_bool:
                for c in range(lo, hi):
                    if not mask[b, h, i, j0 + c]:
                        row[c] = ninf
            else:
                for c in range(lo, hi):
                    row[c] += mask[b, h, i, j0 + c]
        lr = lse[r]
        if lr == ninf:
            sub[:] = zero
        else:
            # s - lse <= 0 up to rounding (lse >= the row max)
            exp_sub_sum(sub, lr)


@njit(fastmath=FASTMATH, cache=True, nogil=True)
def bwd_dscores(p, dp, dvec):
    """``dp <- p * (dp - D)`` (row-wise D)."""
    for r in range(p.shape[0]):
        d = dvec[r]
        for c in range(p.shape[1]):
            dp[r, c] = p[r, c] * (dp[r, c] - d)


@njit(fastmath=FASTMATH, cache=True, nogil=True)
def rowdot(a, b, out):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for r in range(a.shape[2]):
                acc = a[i, j, r, 0] * b[i, j, r, 0]
                for c in range(1, a.shape[3]):
                    acc += a[i, j, r, c] * b[i, j, r, c]
                out[i, j, r] = acc
