"""Memory-efficient (FlashAttention-2 style) attention on NumPy arrays.

The kernels are split by concern:

* :mod:`.flash_forward` -- the forward: work items ``(batch, head, query
  block)`` walk the key blocks their rows can see, folding score tiles into a
  running row max / row sum / output accumulator (online softmax, one final
  division); returns ``(out, lse)``.
* :mod:`.flash_backward` -- the backward from ``lse``: recomputed probability
  tiles, ``dS = P * (dP - D)``, work items are kv blocks.
* :mod:`.flash_tiles` -- the Numba tile kernels both paths share (masking,
  online softmax, probabilities, ``dS``).
* :mod:`.flash_micro` -- float32 GEMM micro-kernels (LLVM IR on explicit
  vectors) generated from one validated geometry, :data:`.flash_micro.GEOMETRY`;
  head dims outside it and other dtypes use BLAS tiles.

Threads come from the package pool (:mod:`.parallel`); BLAS runs
single-threaded inside it; the Numba kernels release the GIL.  Extra memory is
O(N*d) plus a few tiles per thread.  Nothing is compiled at import; kernels
compile (and are cached on disk) at the first call.

    >>> import numpy as np
    >>> q = k = v = np.ones((1, 2, 8, 64), np.float32)
    >>> out, lse = attention_forward(q, k, v, causal="top_left", impl="flash")
    >>> bool(np.allclose(out, 1))
    True
"""

from __future__ import annotations

from .flash_backward import attention_backward
from .flash_forward import attention_forward

__all__ = ["attention_forward", "attention_backward"]
