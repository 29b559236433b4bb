"""linear (one op: forward ``x @ W.T + b`` through BLAS, backward three products) and bilinear."""
from __future__ import annotations

import math

import numpy as np

from ... import _dtype as D
from ..._autocast import _local as _autocast, lower_precision
from ..._autograd.graph import attach, node_type
from ..._autograd.grad_mode import STATE
from ..._kernels.blas import matmul as _matmul
from ..._ops.linalg import mm
from ..._ops import reduction as R
from ..._tensor import Tensor

AddmmBackward0 = node_type("AddmmBackward0")
MmBackward0 = node_type("MmBackward0")
ViewBackward0 = node_type("ViewBackward0")

_SCALAR = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
           "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _half(arr):
    return arr.dtype == np.float16 or arr.dtype == D.bfloat16.np

def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` for input (*, in_features), weight (out_features, in_features)."""
    if _autocast.enabled:
        input, weight, bias = lower_precision(input, weight, bias)
    x, w = input._data, weight._data
    if x.dtype != w.dtype or (bias is not None and bias._data.dtype != x.dtype):
        other = w.dtype if x.dtype != w.dtype else bias._data.dtype
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_SCALAR[D._BY_NP[x.dtype].name]} and "
                           f"{_SCALAR[D._BY_NP[other].name]}")
    if w.ndim != 2:
        if w.ndim == 1:  # torch allows a 1-D weight: a dot with the last dim
            out = input.matmul(weight)
            if bias is None:
                return out
            if x.ndim == 2 or (x.ndim == 3 and input.is_contiguous()) or (
                    x.ndim == 1 and bias.dim() == 1 and bias.is_contiguous()):  # torch's addmm paths
                raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
            full = np.broadcast_shapes(out._data.shape, bias._data.shape)
            if full != out._data.shape:  # torch adds the bias in place
                raise RuntimeError(f"output with shape {list(out._data.shape)} doesn't match the broadcast shape "
                                   f"{list(full)}")
            return out + bias
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {w.ndim}D")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        rows = math.prod(x.shape[:-1]) if x.ndim > 1 else 1
        k = x.shape[-1] if x.ndim else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and {w.shape[1]}x{w.shape[0]})")
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    if bias is not None and bias._data.shape != (w.shape[0],):
        bias.expand(x2.shape[0], w.shape[0])  # torch's error for a bias that does not expand to (rows, out)
    if _half(x2):
        out = _matmul(x2.astype(np.float32), w.astype(np.float32).T)
        if bias is not None:
            out += bias._data.astype(np.float32)
        out = out.astype(x.dtype)
    else:
        out = _matmul(x2, w.T)
        if bias is not None:
            out += bias._data
    if x.ndim != 2:
        out = out.reshape(lead + (w.shape[0],))
    res = Tensor._make(out)
    if STATE.enabled and (input.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)):
        nd = x.ndim
        wt, xt = weight, input

        def backward(g):
            gd = g._data
            if not STATE.enabled and (gd.dtype == np.float32 or gd.dtype == np.float64) and \
                    gd.dtype == xt._data.dtype == wt._data.dtype:
                return _backward_arrays(gd, xt, wt, bias)
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


def _backward_arrays(gd, xt, wt, bias):
    """linear's backward on the arrays (no graph to record): the same BLAS products and bias sum as the
    Tensor-level path (``mm``, ``sum``), without their per-call checks."""
    x = xt._data
    g2 = gd.reshape(-1, gd.shape[-1]) if gd.ndim != 2 else gd  # (rows, out)
    gx = gw = gb = None
    if xt.requires_grad:
        gx = Tensor._make(_matmul(g2, wt._data).reshape(x.shape))
    if wt.requires_grad:
        gw = Tensor._make(_matmul(g2.T, x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x))
    if bias is not None and bias.requires_grad:
        gb = R.sum(Tensor._make(g2), 0)
    return gx, gw, gb


def _size(a, d):
    """``a.shape[d]`` with torch's IndexError for a 0-d tensor or a dim out of range."""
    if a.ndim == 0:
        raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")
    if not -a.ndim <= d < a.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-a.ndim}, {a.ndim - 1}], but got {d})")
    return a.shape[d]


def bilinear(input1, input2, weight, bias=None):
    """``x1 @ W[o] @ x2`` for each output feature ``o``: (*, I), (*, J), (O, I, J) -> (*, O).

    >>> tuple(bilinear(torch.ones(2, 3), torch.ones(2, 4), torch.ones(5, 3, 4)).shape)
    (2, 5)
    """
    from ..._ops.einsum import einsum
    args = [input1, input2, weight] + ([bias] if bias is not None else [])
    if any(t.dtype is not input1.dtype for t in args):
        got = ", ".join(f"{n}: {t.dtype.cpp_name}" for n, t in zip(("input1", "input2", "weight", "bias"), args))
        raise RuntimeError(f"All tensors must have the same dtype, got {got}")
    x1, x2, w = input1._data, input2._data, weight._data
    if x1.ndim != x2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {x1.ndim} and {x2.ndim}")
    for i in range(x1.ndim - 1):
        if x1.shape[i] != x2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got {x1.shape[i]} and "
                               f"{x2.shape[i]}")
    for k, (a, d) in enumerate(((x1, 1), (x2, 2)), 1):
        if _size(a, -1) != _size(w, d):
            raise RuntimeError(f"bilinear(): input{k} size does not match weight size: got {a.shape[-1]} but "
                               f"expected {w.shape[d]}")
    if bias is not None and _size(bias._data, 0) != w.shape[0]:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {bias._data.shape[0]} but "
                           f"expected {w.shape[0]}")
    lead = x1.shape[:-1]
    out = einsum("bi,oij,bj->bo", input1.reshape(-1, x1.shape[-1]), weight, input2.reshape(-1, x2.shape[-1]))
    out = out.reshape(lead + (w.shape[0],))  # (*, O)
    return out + bias if bias is not None else out
