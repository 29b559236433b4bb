"""Shared option handling for the attention kernels (NumPy level).

Conventions used by every attention path in this package:

* ``q`` ``(B, H, L, E)``, ``k`` ``(B, Hkv, S, E)``, ``v`` ``(B, Hkv, S, Ev)``;
  ``H % Hkv == 0`` and query head ``h`` reads kv head ``h // (H // Hkv)``.
* Scores are ``scale * q @ k^T`` (then ``score_mod`` / additive mask).
* Index masking.  With ``off`` the diagonal offset (``0`` for
  ``'top_left'``, ``S - L`` for ``'bottom_right'``), key ``j`` is visible to
  query ``i`` iff ``-left <= j - i - off <= right``.  ``causal`` sets
  ``right = min(right, 0)``; a ``window=(left, right)`` side that is ``None``
  is unbounded.
* A ``mask`` is boolean (``True`` = take part) or additive float, broadcastable
  to ``(B, H, L, S)``; it is kept as a broadcast *view*, never materialised.
* Rows with no visible key give output ``0`` and ``lse = -inf``.
"""

from __future__ import annotations

import threading
from typing import NamedTuple, Optional

import numpy as np

from .parallel import blas_threads, parallel_for

__all__ = ["AttnSpec", "prepare", "UNBOUNDED", "row_range", "col_range", "tile_needs_index_mask",
           "MATH_THRESHOLD", "use_math", "run_workers"]

# "infinite" band width; small enough that i + off + UNBOUNDED fits in int64
UNBOUNDED = 1 << 60

_ALIGNMENTS = ("top_left", "bottom_right")


class AttnSpec(NamedTuple):
    B: int
    H: int
    Hkv: int
    L: int
    S: int
    E: int
    Ev: int
    group: int
    off: int
    left: int
    right: int
    mask: Optional[np.ndarray]  # (B, H, L, S) broadcast view or None
    mask_is_bool: bool
    dtype: np.dtype
    scale: float

    @property
    def banded(self) -> bool:
        return self.left < UNBOUNDED or self.right < UNBOUNDED


def _side(x) -> int:
    if x is None:
        return UNBOUNDED
    x = int(x)
    if x < 0:
        # negative sides are allowed (they shift the band) but clamp absurd values
        return max(x, -UNBOUNDED)
    return min(x, UNBOUNDED)


def prepare(q, k, v, *, scale=None, causal=None, window=None, mask=None,
            alignment=None, check_dtype=True) -> AttnSpec:
    """Validate shapes/options and return an :class:`AttnSpec`."""
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(
            f"attention kernels expect 4-D q, k, v; got {q.ndim}-D, {k.ndim}-D, {v.ndim}-D")
    B, H, L, E = q.shape
    Bk, Hkv, S, Ek = k.shape
    Bv, Hv, Sv, Ev = v.shape
    if Bk != B or Bv != B:
        raise ValueError(f"batch sizes differ: q {B}, k {Bk}, v {Bv}")
    if Hv != Hkv or Sv != S:
        raise ValueError(f"k {k.shape} and v {v.shape} disagree on heads/length")
    if Ek != E:
        raise ValueError(f"q and k head dims differ: {E} vs {Ek}")
    if Hkv == 0 or H % Hkv != 0:
        raise ValueError(f"number of query heads {H} is not a multiple of kv heads {Hkv}")
    dtype = q.dtype
    if check_dtype:
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"attention kernels support float32/float64, got {dtype}")
        if k.dtype != dtype or v.dtype != dtype:
            raise TypeError(f"q, k, v dtypes differ: {q.dtype}, {k.dtype}, {v.dtype}")
    if scale is None:
        scale = 1.0 / np.sqrt(E) if E > 0 else 1.0
    scale = float(scale)

    if causal not in (None, False, True) + _ALIGNMENTS:
        raise ValueError(f"causal must be None, 'top_left' or 'bottom_right', got {causal!r}")
    if causal is True:
        causal = "top_left"
    if causal is False:
        causal = None
    if alignment is not None and alignment not in _ALIGNMENTS:
        raise ValueError(f"alignment must be 'top_left' or 'bottom_right', got {alignment!r}")
    if causal is not None and alignment is not None and causal != alignment:
        raise ValueError("causal and alignment name different diagonals")
    align = causal or alignment or "top_left"
    off = 0 if align == "top_left" else S - L

    if window is None:
        left, right = UNBOUNDED, UNBOUNDED
    else:
        if len(window) != 2:
            raise ValueError("window must be a pair (left, right)")
        left, right = _side(window[0]), _side(window[1])
    if causal is not None:
        right = min(right, 0)

    mask4 = None
    mask_is_bool = False
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype == np.bool_:
            mask_is_bool = True
        elif mask.dtype != dtype:
            if not np.issubdtype(mask.dtype, np.floating) and not np.issubdtype(mask.dtype, np.integer):
                raise TypeError(f"mask must be bool or float, got {mask.dtype}")
            mask = mask.astype(dtype)
        if mask.ndim > 4:
            raise ValueError(f"mask with {mask.ndim} dims cannot broadcast to (B, H, L, S)")
        try:
            mask4 = np.broadcast_to(mask, (B, H, L, S))
        except ValueError:
            raise ValueError(
                f"mask of shape {mask.shape} is not broadcastable to {(B, H, L, S)}") from None
    return AttnSpec(B, H, Hkv, L, S, E, Ev, H // Hkv, off, left, right, mask4, mask_is_bool,
                    np.dtype(dtype), scale)


def col_range(spec: AttnSpec, i0: int, i1: int):
    """Keys ``[j0, j1)`` that rows ``[i0, i1)`` may see (may be empty)."""
    j0 = max(0, i0 + spec.off - spec.left)
    j1 = min(spec.S, (i1 - 1) + spec.off + spec.right + 1)
    return j0, j1


def row_range(spec: AttnSpec, j0: int, j1: int):
    """Queries ``[i0, i1)`` that may see some key in ``[j0, j1)``."""
    i0 = max(0, j0 - spec.off - spec.right)
    i1 = min(spec.L, (j1 - 1) - spec.off + spec.left + 1)
    return i0, i1


def tile_needs_index_mask(spec: AttnSpec, i0: int, i1: int, j0: int, j1: int) -> bool:
    """Whether the tile ``[i0,i1) x [j0,j1)`` has entries removed by the band."""
    full = (j0 - (i1 - 1) - spec.off >= -spec.left) and ((j1 - 1) - i0 - spec.off <= spec.right)
    return not full


def index_mask(spec: AttnSpec, i0: int, i1: int, j0: int, j1: int) -> np.ndarray:
    """Boolean ``(i1-i0, j1-j0)`` tile of the causal/window band (True = visible)."""
    d = np.arange(j0, j1)[None, :] - np.arange(i0, i1)[:, None] - spec.off
    return (d >= -spec.left) & (d <= spec.right)


# below this many score entries per (batch, head) ``impl='auto'`` takes the math path
MATH_THRESHOLD = 128 * 128


def use_math(spec: AttnSpec, impl: str) -> bool:
    """Whether ``impl`` (``'auto'``, ``'flash'`` or ``'math'``) picks the math path."""
    if impl == "math":
        return True
    if impl == "flash":
        return False
    if impl != "auto":
        raise ValueError(f"impl must be 'auto', 'flash' or 'math', got {impl!r}")
    return spec.L * spec.S <= MATH_THRESHOLD


def run_workers(worker, items, nthreads: int) -> None:
    """Run ``worker(item_iter, tid)`` as ``nthreads`` tasks of the package pool,
    all pulling from one shared iterator over ``items`` (``tid`` < nthreads
    names the task, e.g. for per-task scratch); BLAS is single-threaded
    meanwhile.  One item runs inline."""
    if len(items) <= 1:
        worker(iter(items), 0)
        return
    lock = threading.Lock()
    it = iter(items)

    def next_items():
        while True:
            with lock:
                x = next(it, _END)
            if x is _END:
                return
            yield x

    with blas_threads(1):
        parallel_for(lambda t: worker(next_items(), t), max(1, nthreads))


_END = object()
