"""Matrix products on the native team: one pool for element-wise work and GEMMs, as torch has.

NumPy's OpenBLAS keeps threads of its own, which spin for a long while after
each product.  With two pools on the same cores every element-wise op on the
team (:mod:`.native_parallel`) fights those spinning threads, and the team
must go to sleep right after each op (a wake-up costs ~30 µs in a VM).

So when NumPy's BLAS is an OpenBLAS whose ``cblas_?gemm`` can be found
(``parallel.gemm_symbols``), the team takes BLAS over as it starts: OpenBLAS
runs at one thread, and :func:`matmul` splits a large product into blocks of
rows (or columns, or whole matrices of a batch), one single-threaded
``sgemm`` / ``dgemm`` per team thread (:mod:`.gemm`).  Each output element is
reduced over K in the same order as by the whole-matrix call; OpenBLAS may
still pick another micro-kernel for the edge of a block, so a few elements
can differ from ``np.matmul``'s in the last bit.

:func:`matmul` is ``np.matmul`` for arrays of two or more dims (batch dims
broadcast); it leaves small work, other dtypes, layouts BLAS cannot read in
place, and a team that is off to ``np.matmul`` itself.  Numba is imported
only for work that goes to the team.

>>> import numpy as np
>>> a = np.ones((300, 200), np.float32); b = np.ones((200, 100), np.float32)
>>> bool((matmul(a, b) == np.matmul(a, b)).all())
True
"""
from __future__ import annotations

import math

import numpy as np

from . import native_parallel
from .lazy import kernels
from .parallel import gemm_symbols, get_num_threads

__all__ = ["MIN_WORK", "matmul"]

MIN_WORK = 1 << 21  # multiply-adds: smaller products are one BLAS call (~10 µs of work on one core)
_NO_TRANS, _TRANS = 111, 112


def _layout(x: np.ndarray):
    """(transpose flag, leading dimension) of the matrix in ``x``'s last two dims as BLAS reads it in row-major
    order, or None when BLAS cannot read it in place (unit stride in neither dim, or negative strides)."""
    r, c = x.shape[-2:]
    s0, s1 = x.strides[-2:]
    size = x.itemsize
    if (s1 == size or c <= 1) and s0 >= 0 and s0 % size == 0:
        ld = s0 // size if r > 1 else max(c, 1)
        if ld >= max(c, 1):
            return _NO_TRANS, ld
    if (s0 == size or r <= 1) and s1 >= 0 and s1 % size == 0:
        ld = s1 // size if c > 1 else max(r, 1)
        if ld >= max(r, 1):
            return _TRANS, ld
    return None


def _batch_stride(x: np.ndarray, batch: tuple) -> int | None:
    """The one byte stride walking the (broadcast) batch dims of ``x`` in C order, or None if there is none."""
    lead = len(batch) - (x.ndim - 2)
    shape = (1,) * lead + x.shape[:-2]
    strides = (0,) * lead + x.strides[:-2]
    stride = None
    span = 1  # items walked by the dims to the right
    for dim in range(len(batch) - 1, -1, -1):
        if batch[dim] == 1:
            continue
        s = 0 if shape[dim] == 1 else strides[dim]
        if stride is None:
            stride = s
        elif s != stride * span:
            return None
        span *= batch[dim]
    return 0 if stride is None else stride


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b)`` for arrays of two or more dims, split over the team when the work is large.

    >>> matmul(np.eye(2), np.arange(4.0).reshape(2, 2))
    array([[0., 1.],
           [2., 3.]])
    """
    if a.ndim >= 2 and b.ndim >= 2 and (a.size * b.shape[-1] >= MIN_WORK or b.size * a.shape[-2] >= MIN_WORK):
        c = _on_team(a, b, out)
        if c is not None:
            return c
    return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)


def _on_team(a, b, out):
    """The product run on the team, or None where ``np.matmul`` should run it."""
    fn = gemm_symbols().get(a.dtype)
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if fn is None or b.dtype != a.dtype or b.shape[-2] != k or get_num_threads() < 2 or \
            not native_parallel.owns_blas():
        return None
    batch = a.shape[:-2]
    if batch != b.shape[:-2]:
        try:
            batch = np.broadcast_shapes(batch, b.shape[:-2])
        except ValueError:
            return None
    la, lb = _layout(a), _layout(b)
    sa, sb = _batch_stride(a, batch), _batch_stride(b, batch)
    shape = batch + (m, n)
    if la is None or lb is None or sa is None or sb is None or (out is not None and (
            out.shape != shape or out.dtype != a.dtype or not out.flags.c_contiguous)):
        return None
    n_batch = math.prod(batch)
    threads = get_num_threads()
    if n_batch >= threads:  # whole matrices of the batch per thread
        unit, units = 0, n_batch
    elif m >= n:  # blocks of rows
        unit, units = 1, m
    else:  # blocks of columns
        unit, units = 2, n
    c = np.empty(shape, a.dtype) if out is None else out
    real = a.dtype.type
    gemm = kernels("gemm")
    pa, pb, pc = gemm.addresses(a, b, c)
    args = (real(1.0), real(0.0), fn[0], fn[1], unit, la[0], lb[0], m, n, k, pa, la[1], pb, lb[1], pc, n, n_batch,
            sa, sb, m * n * c.itemsize, c.itemsize)
    if not native_parallel.launch_rows(gemm.gemm_blocks, min(threads, units), units, args):
        return None
    native_parallel.mark()
    return c
