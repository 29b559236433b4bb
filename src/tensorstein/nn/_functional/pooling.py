"""max / avg / adaptive-avg pooling in 1-D and 2-D (1-D runs as 2-D with H = 1).

Max and average pools read every window through one strided view and scatter their gradient back
with one ``bincount`` (max) or one add per kernel tap (avg); adaptive average pooling is two small
averaging matrices applied with ``matmul`` (so autograd differentiates it).

>>> max_pool2d(torch.arange(16.).reshape(1, 1, 4, 4), 2)
tensor([[[[ 5.,  7.],
          [13., 15.]]]])
"""
from __future__ import annotations

import numpy as np

from ..._autograd.graph import attach, needs_grad, node_type
from ..._tensor import Tensor
from .conv import _windows

MaxPool2DWithIndicesBackward0 = node_type("MaxPool2DWithIndicesBackward0")
AvgPool2DBackward0 = node_type("AvgPool2DBackward0")


def _pair(v, n, default=None):
    if v is None or (isinstance(v, (tuple, list)) and len(v) == 0):
        v = default
    if isinstance(v, (tuple, list)):
        return tuple(int(a) for a in v) * (n if len(v) == 1 else 1)
    return (int(v),) * n


def _out_size(size, k, s, p, d, ceil_mode):
    o = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= size + p:
        o -= 1
    return o


def _setup(input, kernel_size, stride, padding, dilation, ceil_mode, nd, name):
    """Validate like torch; returns (x as (N, C, H, W), k, s, p, d, out spatial, restore-shape fn)."""
    x = input._data
    if nd == 1:
        if x.ndim not in (2, 3):
            raise RuntimeError(f"{name}: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
                               f"input, but got:{list(x.shape)}")
    elif x.ndim not in (3, 4):
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    k = _pair(kernel_size, nd)
    s = _pair(stride, nd, default=k)
    p, d = _pair(padding, nd), _pair(dilation, nd)
    if any(v == 0 for v in s):
        raise RuntimeError("stride should not be zero")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: {d[0]} dilationW: {d[-1]}")
    for kk, pp, dd in zip(k, p, d):
        if pp > (dd * (kk - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pp}, "
                               f"kernel_size={kk} and dilation={dd}")
    spatial = x.shape[-nd:]
    out = tuple(_out_size(n, kk, ss, pp, dd, ceil_mode) for n, kk, ss, pp, dd in zip(spatial, k, s, p, d))
    if any(o <= 0 for o in out):
        if nd == 1:
            raise RuntimeError(f"{name}() Invalid computed output size: {out[0]}")
        c = x.shape[-3]
        raise RuntimeError(f"Given input size: ({c}x{'x'.join(map(str, spatial))}). Calculated output size: "
                           f"({c}x{'x'.join(map(str, out))}). Output size is too small")
    lead = x.shape[:-nd]
    x4 = x.reshape((-1, 1, 1) + spatial) if nd == 1 else x.reshape((-1,) + x.shape[-3:])
    if nd == 1:
        k, s, p, d, out = (1,) + k, (1,) + s, (0,) + p, (1,) + d, (1,) + out
    return x4, k, s, p, d, out, lambda a: a.reshape(lead + a.shape[-nd:])


def _pad_to(x4, fill, k, s, p, d, out):
    """Pad (N, C, H, W) with ``fill``: ``p`` before, enough after for ``out`` windows (ceil_mode)."""
    need = [(o - 1) * ss + dd * (kk - 1) + 1 for o, ss, dd, kk in zip(out, s, d, k)]
    h, w = x4.shape[2:]
    if p == (0, 0) and need[0] <= h and need[1] <= w:
        return x4
    xp = np.full(x4.shape[:2] + (max(need[0], h + p[0]), max(need[1], w + p[1])), fill, dtype=x4.dtype)
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x4
    return xp


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, name):
    x4, k, s, p, d, out, restore = _setup(input, kernel_size, stride, padding, dilation, ceil_mode, nd, name)
    fill = -np.inf if x4.dtype.kind == "f" else np.iinfo(x4.dtype).min
    xp = _pad_to(x4, fill, k, s, p, d, out)
    win = _windows(xp, k, s, d)[:, :, :out[0], :out[1]]  # (N, C, OH, OW, KH, KW)
    flat = win.reshape(win.shape[:4] + (-1,))
    arg = flat.argmax(axis=-1)
    vals = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    res = Tensor._make(restore(vals))
    want_grad = needs_grad(input)
    if not (return_indices or want_grad):
        return res
    h, w = x4.shape[2:]
    rows = (np.arange(out[0]) * s[0] - p[0])[:, None] + (arg // k[1]) * d[0]
    cols = (np.arange(out[1]) * s[1] - p[1]) + (arg % k[1]) * d[1]
    idx = (rows * w + cols).astype(np.int64)  # (N, C, OH, OW) index into the H*W plane
    if want_grad:
        nc = x4.shape[0] * x4.shape[1]

        def backward(g):
            gd = g._data.reshape(nc, -1)
            glob = idx.reshape(nc, -1) + (np.arange(nc, dtype=np.int64) * (h * w))[:, None]
            gx = np.bincount(glob.ravel(), weights=gd.ravel(), minlength=nc * h * w)
            return (Tensor._make(gx.astype(g._data.dtype).reshape(input._data.shape)),)

        attach(res, MaxPool2DWithIndicesBackward0, backward, (input,))
    if return_indices:
        return res, Tensor._make(restore(idx))
    return res


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, L); ``return_indices`` gives the argmax positions in L."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, H, W); indices are flat positions in each H*W plane."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def _avg_divisor(size, o, k, s, p, count_include_pad):
    start = np.arange(o) * s - p
    end = np.minimum(start + k, size + p)
    pool = end - start
    if count_include_pad:
        return pool
    return np.minimum(end, size) - np.maximum(start, 0)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, nd, name):
    x4, k, s, p, d, out, restore = _setup(input, kernel_size, stride, padding, 1, ceil_mode, nd, name)
    if x4.dtype.kind != "f":
        raise RuntimeError(f"\"{name}\" not implemented for '{input.dtype.name.capitalize()}'")
    h, w = x4.shape[2:]
    xp = _pad_to(x4, 0, k, s, p, d, out)
    win = _windows(xp, k, s, d)[:, :, :out[0], :out[1]]
    if divisor_override:
        div = np.full(out, divisor_override, dtype=x4.dtype)
    else:
        div = np.outer(_avg_divisor(h, out[0], k[0], s[0], p[0], count_include_pad),
                       _avg_divisor(w, out[1], k[1], s[1], p[1], count_include_pad)).astype(x4.dtype)
    vals = win.sum(axis=(-2, -1)) / div
    res = Tensor._make(restore(vals))
    if needs_grad(input):
        xp_shape = xp.shape

        def backward(g):
            gd = g._data.reshape(x4.shape[:2] + out) / div
            dxp = np.zeros(xp_shape, dtype=gd.dtype)
            for i in range(k[0]):
                for j in range(k[1]):
                    dxp[:, :, i:i + s[0] * (out[0] - 1) + 1:s[0], j:j + s[1] * (out[1] - 1) + 1:s[1]] += gd
            gx = dxp[:, :, p[0]:p[0] + h, p[1]:p[1] + w]
            return (Tensor._make(np.ascontiguousarray(gx).reshape(input._data.shape)),)

        attach(res, AvgPool2DBackward0, backward, (input,))
    return res


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of (N, C, L)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over sliding windows of (N, C, H, W)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                     "avg_pool2d")


def _adaptive_matrix(size, out, dtype):
    """(out, size) averaging matrix: row i averages [floor(i*size/out), ceil((i+1)*size/out))."""
    m = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        a, b = (i * size) // out, -((-(i + 1) * size) // out)
        m[i, a:b] = 1.0 / (b - a)
    return Tensor._make(m)


def adaptive_avg_pool1d(input, output_size):
    """Average (N, C, L) down to ``output_size`` positions with torch's window boundaries."""
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 1:
            raise RuntimeError(f"adaptive_avg_pool1d() argument 'output_size' should contain one int (got "
                               f"{len(output_size)})")
        output_size = output_size[0]
    if input._data.ndim not in (2, 3):
        raise RuntimeError(f"adaptive_avg_pool1d(): Expected 2D or 3D tensor, but got {list(input._data.shape)}")
    m = _adaptive_matrix(input._data.shape[-1], int(output_size), input._data.dtype)
    return input.matmul(m.t())


def adaptive_avg_pool2d(input, output_size):
    """Average (N, C, H, W) down to ``output_size`` (an int, or a pair whose None keeps that dim)."""
    x = input._data
    if x.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got {list(x.shape)}")
    oh, ow = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    oh = x.shape[-2] if oh is None else int(oh)
    ow = x.shape[-1] if ow is None else int(ow)
    mh = _adaptive_matrix(x.shape[-2], oh, x.dtype)
    mw = _adaptive_matrix(x.shape[-1], ow, x.dtype)
    return mh.matmul(input).matmul(mw.t())
