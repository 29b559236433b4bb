"""linear, embedding, dropout, one_hot, pad.

``linear`` is one op (forward ``x @ W.T + b`` through BLAS, backward three products); the others
are composites of tensor ops or ops whose backward is written with tensor ops.
"""
from __future__ import annotations

import numpy as np

from ... import _dtype as D
from ..._autograd.graph import attach, node_type, needs_grad
from ..._autograd.grad_mode import STATE
from ..._ops import random as _random
from ..._ops.linalg import mm
from ..._ops import reduction as R
from ..._tensor import Tensor

AddmmBackward0 = node_type("AddmmBackward0")
MmBackward0 = node_type("MmBackward0")
ViewBackward0 = node_type("ViewBackward0")
EmbeddingBackward0 = node_type("EmbeddingBackward0")
ConstantPadNdBackward0 = node_type("ConstantPadNdBackward0")

_SCALAR = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
           "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _half(arr):
    return arr.dtype == np.float16 or arr.dtype == D.bfloat16.np


# ---------------------------------------------------------------- linear
def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` for input (*, in_features), weight (out_features, in_features)."""
    x, w = input._data, weight._data
    if x.dtype != w.dtype or (bias is not None and bias._data.dtype != x.dtype):
        other = w.dtype if x.dtype != w.dtype else bias._data.dtype
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_SCALAR[D._BY_NP[x.dtype].name]} and "
                           f"{_SCALAR[D._BY_NP[other].name]}")
    if w.ndim != 2:
        if w.ndim == 1:  # torch allows a 1-D weight: a dot with the last dim
            out = input.matmul(weight)
            return out + bias if bias is not None else out
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {w.ndim}D")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        rows = int(np.prod(x.shape[:-1])) if x.ndim > 1 else 1
        k = x.shape[-1] if x.ndim else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and {w.shape[1]}x{w.shape[0]})")
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    if _half(x2):
        out = (x2.astype(np.float32) @ w.astype(np.float32).T)
        if bias is not None:
            out += bias._data.astype(np.float32)
        out = out.astype(x.dtype)
    else:
        out = x2 @ w.T
        if bias is not None:
            out += bias._data
    if x.ndim != 2:
        out = out.reshape(lead + (w.shape[0],))
    res = Tensor._make(out)
    if STATE.enabled and (input.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)):
        nd = x.ndim
        wt, xt = weight, input

        def backward(g):
            g2 = g if nd == 2 else g.reshape(-1, g._data.shape[-1])
            x2t = xt if nd == 2 else xt.reshape(-1, xt._data.shape[-1])
            gx = gw = gb = None
            if xt.requires_grad:
                gx = mm(g2, wt)
                if nd != 2:
                    gx = gx.reshape(xt._data.shape)
            if wt.requires_grad:
                gw = mm(g2.t(), x2t)
            if bias is not None and bias.requires_grad:
                gb = R.sum(g2, 0)
            return gx, gw, gb

        cls = (AddmmBackward0 if bias is not None else MmBackward0) if nd == 2 else ViewBackward0
        attach(res, cls, backward, (input, weight, bias), (input, weight))
    return res


def bilinear(input1, input2, weight, bias=None):
    from ..._ops.einsum import einsum
    out = einsum("bi,oij,bj->bo", input1, weight, input2)
    return out + bias if bias is not None else out


# ---------------------------------------------------------------- embedding
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer ``input``; the ``padding_idx`` row gets no gradient."""
    if not isinstance(input, Tensor) or input._data.dtype.kind not in "iu":
        got = _SCALAR[input.dtype.name] if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got torch.{got}Tensor instead (while checking arguments for embedding)")
    w = weight._data
    n = w.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= n:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -n:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = n + padding_idx
    idx = input._data
    if idx.size and (idx.min() < 0 or idx.max() >= n):
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
            np.add.at(gw, flat, gd)
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


# ---------------------------------------------------------------- dropout
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


# ---------------------------------------------------------------- one_hot
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


# ---------------------------------------------------------------- pad
_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input, pad, mode: str = "constant", value=None):
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)``; negative values crop."""
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    x = input._data
    if len(pad) // 2 > x.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {x.ndim}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        return _constant_pad(input, widths, 0.0 if value is None else value)
    if mode not in _NP_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise AssertionError('Padding value causes a non-trivial change. The value must be 0 for mode '
                             f'"{mode}"')
    # non-constant modes: an index_select per padded dim (differentiable through index_select)
    from ..._ops.indexing import index_select
    out = input
    for d, (lo, hi) in enumerate(widths):
        if lo == 0 and hi == 0:
            continue
        n = x.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {d} of input {list(x.shape)}")
        ar = np.arange(n)
        ar = ar[max(-lo, 0): n - max(-hi, 0)]
        ids = np.pad(ar, (max(lo, 0), max(hi, 0)), mode=_NP_MODES[mode])
        out = index_select(out, d, Tensor._make(ids.astype(np.int64)))
    return out


def _constant_pad(input, widths, value):
    x = input._data
    crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
    xc = x[crop]
    pos = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    out = np.pad(xc, pos, mode="constant", constant_values=np.array(value).astype(x.dtype))
    res = Tensor._make(out)
    if needs_grad(input):
        in_shape = x.shape
        inner = tuple(slice(lo, lo + xc.shape[d]) for d, (lo, _) in enumerate(pos))

        def backward(g):
            gi = g[inner]
            if gi._data.shape == in_shape:
                return (gi,)
            back = [(c.start, s - c.stop) for c, s in zip(crop, in_shape)]
            return (_constant_pad(gi, back, 0.0),)

        attach(res, ConstantPadNdBackward0, backward, (input,))
    return res
