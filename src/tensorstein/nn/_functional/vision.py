"""interpolate: nearest, nearest-exact, linear and bilinear resizing built from differentiable
``index_select`` gathers and per-position weights (one pass per spatial dim).

``pad`` and ``one_hot`` are the existing ops that ``nn.functional`` re-exports.

>>> interpolate(torch.arange(4.).reshape(1, 1, 2, 2), scale_factor=2).shape
tensorstein.Size([1, 1, 4, 4])
"""
from __future__ import annotations

import math

import numpy as np

from ..._ops.indexing import index_select
from ..._tensor import Tensor

_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5, "bicubic": 4}


def _out_sizes(x, size, scale_factor, nd, recompute):
    """Output sizes and the source/destination scale per dim (None where torch derives it from sizes)."""
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = list(size) if isinstance(size, (tuple, list)) else [size] * nd
        if len(sizes) != nd:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {list(x.shape[2:])} and output size of {sizes}. Please "
                             "provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                             "...,oK) format.")
        return [int(s) for s in sizes], [None] * nd
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    scales = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * nd
    if len(scales) != nd:
        raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                         f"with spatial dimensions of {list(x.shape[2:])} and scale_factor of shape {scales}. Please "
                         "provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,"
                         "sK) format.")
    sizes = [math.floor(float(n) * float(s)) for n, s in zip(x.shape[2:], scales)]
    return sizes, [None if recompute else float(s) for s in scales]


def _src_scale(n_in, n_out, scale, align_corners):
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else n_in / n_out


def _nearest(x, dim, n_out, scale, exact):
    n_in = x._data.shape[dim]
    s = _src_scale(n_in, n_out, scale, False)
    dst = np.arange(n_out, dtype=np.float32)
    src = np.floor(((dst + 0.5) if exact else dst) * np.float32(s)).astype(np.int64)
    return index_select(x, dim, Tensor._make(np.minimum(src, n_in - 1)))


def _linear(x, dim, n_out, scale, align_corners):
    n_in = x._data.shape[dim]
    s = np.float32(_src_scale(n_in, n_out, scale, align_corners))
    dst = np.arange(n_out, dtype=np.float32)
    src = dst * s if align_corners else np.maximum((dst + np.float32(0.5)) * s - np.float32(0.5), np.float32(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = (src - i0).astype(x._data.dtype)
    shape = [1] * x._data.ndim
    shape[dim] = n_out
    w1 = Tensor._make(lam.reshape(shape))
    w0 = Tensor._make((1 - lam).reshape(shape))
    return index_select(x, dim, Tensor._make(i0)) * w0 + index_select(x, dim, Tensor._make(i1)) * w1


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *spatial) like ``torch.nn.functional.interpolate``."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif mode in _LINEAR:
        align_corners = bool(align_corners)
    else:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.dim()}D) for the modes: nearest | linear | bilinear | bicubic | trilinear "
                                  f"| area | nearest-exact (got {mode})")
    if antialias:
        raise NotImplementedError("interpolate(antialias=True) is not implemented in tensorstein")
    nd = input.dim() - 2
    if mode in _LINEAR and input.dim() != _LINEAR[mode]:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {_LINEAR[mode]}D input")
    if mode not in ("nearest", "nearest-exact", "linear", "bilinear"):
        raise NotImplementedError(f"interpolate mode '{mode}' is not implemented in tensorstein")
    if nd < 1 or nd > 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                                  f"for the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    sizes, scales = _out_sizes(input, size, scale_factor, nd, bool(recompute_scale_factor))
    out = input
    for d in range(nd):
        dim = 2 + d
        if mode == "nearest" or mode == "nearest-exact":
            out = _nearest(out, dim, sizes[d], scales[d], mode == "nearest-exact")
        else:
            out = _linear(out, dim, sizes[d], scales[d], align_corners)
    return out
