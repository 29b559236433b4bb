"""Sparse functions: embedding (rows of a table, gradient scattered back) and one_hot."""
from __future__ import annotations

import numpy as np

from ..._autograd.graph import attach, node_type, needs_grad
from ..._autograd.grad_mode import STATE
from ..._tensor import Tensor
from .linear import _SCALAR

EmbeddingBackward0 = node_type("EmbeddingBackward0")


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer ``input``; the ``padding_idx`` row gets no gradient."""
    w = weight._data
    if padding_idx is not None and w.ndim == 0:  # torch reads weight.size(0) first
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    n = w.shape[0] if w.ndim else 0
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= n:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -n:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = n + padding_idx
    if w.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    if not isinstance(input, Tensor) or input._data.dtype not in (np.int64, np.int32):
        got = (("CPUBoolType" if input.dtype.name == "bool" else f"torch.{_SCALAR[input.dtype.name]}Tensor")
               if isinstance(input, Tensor) else type(input).__name__)
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {got} instead (while checking arguments for embedding)")
    idx = input._data
    if idx.size and n == 0:
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        if w.shape[1] == 0:  # torch's empty-row kernel reports the first bad index
            bad = int(idx.reshape(-1)[(idx.reshape(-1) < 0) | (idx.reshape(-1) >= n)][0])
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={n}")
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
        w = weight._data
    res = Tensor._make(w[idx])
    if needs_grad(weight):
        shape = w.shape
        pad = padding_idx

        def backward(g):
            if STATE.enabled:  # differentiable path for create_graph
                from ..._ops.indexing import index_put
                from ..._ops.creation import zeros
                gw = index_put(zeros(shape, dtype=g.dtype), (Tensor._make(idx),), g, accumulate=True)
                if pad is not None:
                    mask = np.zeros((shape[0],) + (1,) * (len(shape) - 1), dtype=bool)
                    mask[pad] = True
                    gw = gw.masked_fill(Tensor._make(mask), 0.0)
                return (gw,)
            flat = idx.reshape(-1)
            gd = g._data.reshape(flat.size, -1)
            if scale_grad_by_freq:
                counts = np.bincount(flat, minlength=shape[0])
                gd = gd / counts[flat][:, None].astype(gd.dtype)
            gw = np.zeros((shape[0], gd.shape[1]), dtype=g._data.dtype)
            from ._sparse_kernels import scatter_add_rows
            scatter_add_rows(gw, flat, gd)
            if pad is not None:
                gw[pad] = 0
            return (Tensor._make(gw.reshape(shape)),)

        attach(res, EmbeddingBackward0, backward, (weight,))
    return res


def _renorm_rows(weight, idx, max_norm, norm_type):
    w = weight._data
    rows = np.unique(idx.reshape(-1))
    norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    w[rows] = (w[rows] * scale[:, None]).astype(w.dtype)
    weight._version[0] += 1


def one_hot(tensor, num_classes: int = -1):
    """int64 one-hot encoding with a trailing class dim."""
    if not isinstance(tensor, Tensor) or tensor._data.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    x = tensor._data
    if x.size == 0:
        if num_classes == -1:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return Tensor._make(np.zeros(x.shape + (num_classes,), dtype=np.int64))
    if x.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(x.max()) + 1
    elif x.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = np.zeros(x.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, x[..., None], 1, axis=-1)
    return Tensor._make(out)
