"""conv1d / conv2d: im2col + GEMM forward and backward.

2-D, one group, >= 8 channels, float32/float64: channels-last Numba im2col/col2im (``_conv_kernels``) and
GEMMs in the operand layout OpenBLAS runs fastest. Otherwise: NCHW im2col (a strided window view, one
copy) + batched GEMM, the NumPy path (also the oracle of the channels-last one).

``_conv_composite`` builds the same convolution from differentiable tensor ops (pad, strided slices,
einsum); it is the test oracle and the ``create_graph`` path of the fused op.

>>> conv2d(torch.ones(1, 1, 4, 4), torch.ones(2, 1, 3, 3)).shape
tensorstein.Size([1, 2, 2, 2])
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..._autocast import _local as _autocast, lower_precision
from ..._autograd.grad_mode import STATE
from ..._autograd.graph import attach, node_type
from ..._kernels.parallel import blas_threads, get_num_threads, parallel_chunks
from ..._tensor import Tensor

ConvolutionBackward0 = node_type("ConvolutionBackward0")

_SCALAR = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16"}
_NAME = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16"}


def _tuple(v, n, name):
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return tuple(int(v[0]) for _ in range(n))
        if len(v) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values to match the "
                               f"convolution dimensions, but got {name}={list(v)}")
        return tuple(int(x) for x in v)
    return (int(v),) * n


def _check(x, w, b, nd, stride, padding, dilation, groups, fname):
    """Validate like torch; returns normalised (stride, pads-per-dim as (lo, hi), dilation)."""
    if not isinstance(x, Tensor) or not isinstance(w, Tensor):
        raise TypeError(f"{fname}() received an invalid combination of arguments")
    stride, dilation = _tuple(stride, nd, "stride"), _tuple(dilation, nd, "dilation")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if w._data.ndim != nd + 2:
        raise RuntimeError("weight should have at least three dimensions" if w._data.ndim < 3 else
                           f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fname}, but got "
                           f"input of size: {list(x._data.shape)}")
    if x._data.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fname}, but got input "
                           f"of size: {list(x._data.shape)}")
    c_in = x._data.shape[-nd - 1]
    o, cg = w._data.shape[:2]
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        pads = []
        for d in range(nd):
            total = dilation[d] * (w._data.shape[2 + d] - 1) if padding == "same" else 0
            pads.append((total // 2, total - total // 2))
    else:
        p = _tuple(padding, nd, "padding")
        if any(v < 0 for v in p):
            raise RuntimeError("negative padding is not supported")
        pads = [(v, v) for v in p]
    if o % groups != 0:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size {list(w._data.shape)} instead")
    if cg * groups != c_in:
        shape = list(x._data.shape) if x._data.ndim == nd + 2 else [1] + list(x._data.shape)
        raise RuntimeError(f"Given groups={groups}, weight of size {list(w._data.shape)}, expected input{shape} to "
                           f"have {cg * groups} channels, but got {c_in} channels instead")
    if b is not None and tuple(b._data.shape) != (o,):
        raise RuntimeError(f"Given weight of size {list(w._data.shape)}, expected bias to be 1-dimensional with {o} "
                           f"elements, but got bias of size {list(b._data.shape)} instead")
    if x._data.dtype != w._data.dtype:
        if x._data.dtype == np.float64:
            raise RuntimeError(f"expected scalar type {_NAME[x.dtype.name]} but found {_NAME[w.dtype.name]}")
        raise RuntimeError(f"Input type (torch.{x.dtype.tensor_type}) and weight type (torch.{w.dtype.tensor_type}) "
                           "should be the "
                           "same or input should be a MKLDNN tensor and weight is a dense tensor")
    if b is not None and b._data.dtype != x._data.dtype:
        raise RuntimeError(f"Input type ({_SCALAR.get(x.dtype.name, x.dtype.name)}) and bias type "
                           f"({_SCALAR.get(b.dtype.name, b.dtype.name)}) should be the same")
    for d in range(nd):
        size = x._data.shape[-nd + d] + pads[d][0] + pads[d][1]
        k_eff = dilation[d] * (w._data.shape[2 + d] - 1) + 1
        if size < k_eff:
            in_shape = [s + pads[i][0] + pads[i][1] for i, s in enumerate(x._data.shape[-nd:])]
            raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, in_shape))}). "
                               f"Kernel size: ({' x '.join(map(str, w._data.shape[2:]))}). Kernel size can't be "
                               "greater than actual input size")
    return stride, pads, dilation


def _windows(xp, kshape, stride, dilation):
    """(N, C, *spatial) padded -> strided view (N, C, *out, *k) of every kernel window."""
    nd = len(kshape)
    axes = tuple(range(2, 2 + nd))
    eff = tuple(d * (k - 1) + 1 for k, d in zip(kshape, dilation))
    v = sliding_window_view(xp, eff, axis=axes)
    sl = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride) + \
        tuple(slice(None, None, d) for d in dilation)
    return v[sl]


def _im2col(xp, kshape, stride, dilation, groups):
    """(N, G, Cg*prod(k), L) contiguous columns (one copy) and the output spatial shape."""
    nd = len(kshape)
    v = _windows(xp, kshape, stride, dilation)  # (N, C, *out, *k)
    n = v.shape[0]
    out_sp = v.shape[2:2 + nd]
    perm = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))  # (N, C, *k, *out)
    cols = np.ascontiguousarray(v.transpose(perm))
    L = math.prod(out_sp)
    return cols.reshape(n, groups, -1, L), out_sp


def _conv_forward(x, w, b, stride, pads, dilation, groups):
    """NumPy convolution; returns (out, cols, out_spatial) — cols are kept for the weight gradient."""
    nd = w.ndim - 2
    if any(lo or hi for lo, hi in pads):
        x = np.pad(x, [(0, 0), (0, 0)] + list(pads))
    cols, out_sp = _im2col(x, w.shape[2:], stride, dilation, groups)  # (N, G, K, L)
    o = w.shape[0]
    wg = w.reshape(groups, o // groups, -1)  # (G, Og, K)
    out = np.matmul(wg, cols)  # (N, G, Og, L)
    out = out.reshape((x.shape[0], o) + tuple(out_sp))
    if b is not None:
        out += b.reshape((o,) + (1,) * nd)
    return out, cols, out_sp


USE_NUMBA = True  # the channels-last Numba im2col/col2im path (2-D, groups=1); False: the NumPy path


def _cl_kernels(x, nd, groups):
    """The channels-last kernel module when it applies (2-D, one group, >= 8 input channels, float32/float64),
    else None (with few channels the NHWC rows are too short: the NumPy path measured faster)."""
    if not USE_NUMBA or nd != 2 or groups != 1 or x.shape[1] < 8 or x.dtype not in (np.float32, np.float64):
        return None
    from . import _conv_kernels
    return _conv_kernels


def _by_batch(fn, n):
    """``fn(a, b)`` over batch chunks, one per thread, each thread's BLAS on one thread: the GEMMs of a
    chunk run without a per-call BLAS handshake, and every layout pass runs split too."""
    if get_num_threads() > 1 and n > 1:
        with blas_threads(1):
            parallel_chunks(fn, n, 1)
    else:
        fn(0, n)


def _cl_forward(k, x, w, b, stride, pads, dilation):
    """Channels-last conv2d: NHWC im2col columns (N*OH*OW, KH*KW*C) @ weight^T, the layout OpenBLAS runs
    fastest (measured), batch chunk by batch chunk. Returns (out (N, O, OH, OW), cols, out_sp, wk)."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    (pt, pb), (pl, pr) = pads
    hp, wp = h + pt + pb, wd + pl + pr
    out_sp = tuple((hw + lo + hi - dilation[d] * (w.shape[2 + d] - 1) - 1) // stride[d] + 1
                   for d, (hw, (lo, hi)) in enumerate(zip((h, wd), pads)))
    L = out_sp[0] * out_sp[1]
    xpl = np.empty((n, hp, wp, c), x.dtype)  # padded NHWC
    cols = np.empty((n * L, w.shape[2] * w.shape[3] * c), x.dtype)
    wk = np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(o, -1)  # (O, KH*KW*C)
    out = np.empty((n, o) + out_sp, x.dtype)

    def part(a, z):
        xs = xpl[a:z]
        for rows in (xs[:, :pt], xs[:, hp - pb:], xs[:, :, :pl], xs[:, :, wp - pr:]):
            rows.fill(0)  # zero borders, transposed interior
        xs[:, pt:pt + h, pl:pl + wd] = x[a:z].transpose(0, 2, 3, 1)
        k.im2col_cl(xpl, cols, a, z, w.shape[2:], stride, dilation, out_sp)
        outl = (cols[a * L:z * L] @ wk.T).reshape(z - a, out_sp[0], out_sp[1], o)  # (n, OH, OW, O)
        if b is not None:
            np.add(outl.transpose(0, 3, 1, 2), b.reshape(o, 1, 1), out=out[a:z])
        else:
            np.copyto(out[a:z], outl.transpose(0, 3, 1, 2))

    _by_batch(part, n)
    return out, cols, out_sp, wk


def _cl_backward(k, gd, x, w, cols, wk, stride, pads, dilation, out_sp, need_x, need_w):
    """Input and weight gradients of :func:`_cl_forward` from gd (N, O, OH, OW), batch chunk by chunk."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    (pt, pb), (pl, pr) = pads
    g3 = gd.reshape(n, o, -1)  # (N, O, L): batched GEMMs on NCHW g (no transposed copy; measured as fast)
    L = g3.shape[2]
    c3 = cols.reshape(n, L, -1)
    parts = []
    dcols = np.empty_like(cols) if need_x else None
    dxpl = np.zeros((n, h + pt + pb, wd + pl + pr, c), x.dtype) if need_x else None
    dx = np.empty((n, c, h, wd), x.dtype) if need_x else None

    def part(a, z):
        if need_w:
            parts.append(np.matmul(g3[a:z], c3[a:z]).sum(0))  # (O, KH*KW*C)
        if need_x:
            np.matmul(g3[a:z].transpose(0, 2, 1), wk, out=dcols[a * L:z * L].reshape(z - a, L, -1))
            k.col2im_cl(dcols, dxpl, a, z, w.shape[2:], stride, dilation, out_sp)
            np.copyto(dx[a:z], dxpl[a:z, pt:pt + h, pl:pl + wd].transpose(0, 3, 1, 2))

    _by_batch(part, n)
    gw = None
    if need_w:
        gwk = parts[0] if len(parts) == 1 else np.sum(parts, axis=0)
        gw = np.ascontiguousarray(gwk.reshape(o, w.shape[2], w.shape[3], c).transpose(0, 3, 1, 2))
    return dx, gw


def _col2im(dcols, xp_shape, kshape, stride, dilation, out_sp):
    """Scatter-add column gradients (N, C, *k, *out) back into the padded input (a loop over kernel taps)."""
    dxp = np.zeros(xp_shape, dtype=dcols.dtype)
    for tap in np.ndindex(*kshape):
        sl = tuple(slice(t * d, t * d + s * (o - 1) + 1, s) for t, d, s, o in zip(tap, dilation, stride, out_sp))
        dxp[(slice(None), slice(None)) + sl] += dcols[(slice(None), slice(None)) + tap]
    return dxp


def _convnd(input, weight, bias, stride, padding, dilation, groups, nd, fname):
    if _autocast.enabled:
        input, weight, bias = lower_precision(input, weight, bias)
    stride, pads, dilation = _check(input, weight, bias, nd, stride, padding, dilation, groups, fname)
    unbatched = input._data.ndim == nd + 1
    x = input._data[None] if unbatched else input._data
    w = weight._data
    half = x.dtype != np.float32 and x.dtype != np.float64
    if half:
        x, w = x.astype(np.float32), w.astype(np.float32)
    bd = None if bias is None else bias._data.astype(x.dtype, copy=False)
    k = _cl_kernels(x, nd, groups)
    if k is not None:
        out, cols, out_sp, wk = _cl_forward(k, x, w, bd, stride, pads, dilation)
    else:
        out, cols, out_sp = _conv_forward(x, w, bd, stride, pads, dilation, groups)
    if half:
        out = out.astype(input._data.dtype)
    res = Tensor._make(out[0] if unbatched else out)
    if not (STATE.enabled and (input.requires_grad or weight.requires_grad
                               or (bias is not None and bias.requires_grad))):
        return res
    xp_shape = x.shape[:2] + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads))
    kshape = w.shape[2:]

    def backward(g):
        if STATE.enabled:  # create_graph: differentiate the composite
            from ..._autograd.grad_mode import enable_grad
            from ..._autograd.graph import run_backward
            with enable_grad():
                ref = _conv_composite(input, weight, bias, stride, pads, dilation, groups)
            ins = [t for t in (input, weight, bias) if t is not None and t.requires_grad]
            grads = iter(run_backward((ref,), (g,), True, True, inputs=ins, allow_unused=True))
            return tuple(next(grads) if t is not None and t.requires_grad else None for t in (input, weight, bias))
        gd = g._data[None] if unbatched else g._data
        gd = gd.astype(x.dtype, copy=False)
        n, o = gd.shape[:2]
        g3 = gd.reshape(n, groups, o // groups, -1)  # (N, G, Og, L)
        gx = gw = gb = None
        if bias is not None and bias.requires_grad:
            gb = Tensor._make(gd.sum(axis=(0,) + tuple(range(2, 2 + nd))).astype(bias._data.dtype))
        if k is not None:
            dx, gwa = _cl_backward(k, gd, x, w, cols, wk, stride, pads, dilation, out_sp,
                                   input.requires_grad, weight.requires_grad)
            if gwa is not None:
                gw = Tensor._make(gwa.astype(weight._data.dtype, copy=False))
            if dx is not None:
                dx = dx.astype(input._data.dtype, copy=False)
                gx = Tensor._make(dx[0] if unbatched else dx)
            return gx, gw, gb
        if weight.requires_grad:
            # (G, Og, K): sum over the batch of g (Og, L) @ cols^T (L, K), batched GEMMs without copies
            gwa = np.matmul(g3, cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(w.shape)
            gw = Tensor._make(gwa.astype(weight._data.dtype, copy=False))
        if input.requires_grad:
            wg = w.reshape(groups, o // groups, -1)
            dcols = np.matmul(wg.transpose(0, 2, 1), g3)  # (N, G, K, L)
            dcols = dcols.reshape((n, x.shape[1]) + tuple(kshape) + tuple(out_sp))
            dxp = _col2im(dcols, xp_shape, kshape, stride, dilation, out_sp)
            crop = (slice(None), slice(None)) + tuple(slice(lo, lo + s) for (lo, _), s in zip(pads, x.shape[2:]))
            dx = np.ascontiguousarray(dxp[crop]).astype(input._data.dtype, copy=False)
            gx = Tensor._make(dx[0] if unbatched else dx)
        return gx, gw, gb

    return attach(res, ConvolutionBackward0, backward, (input, weight, bias),
                  tuple(t for t in (input, weight) if t.requires_grad))


def _conv_composite(input, weight, bias, stride, pads, dilation, groups):
    """The same convolution from differentiable tensor ops (oracle; ``pads`` is a list of (lo, hi))."""
    from ..._ops.einsum import einsum
    from ..._ops.shape import cat, stack
    nd = weight._data.ndim - 2
    unbatched = input._data.ndim == nd + 1
    xp = input.unsqueeze(0) if unbatched else input
    for d, (lo, hi) in enumerate(pads):  # zero padding from differentiable concatenation
        shape = list(xp._data.shape)
        parts = []
        for n in (lo, hi):
            shape[2 + d] = n
            parts.append(Tensor._make(np.zeros(shape, dtype=xp._data.dtype)))
        xp = cat([parts[0], xp, parts[1]], 2 + d)
    kshape = weight._data.shape[2:]
    out_sp = [(xp._data.shape[2 + d] - dilation[d] * (kshape[d] - 1) - 1) // stride[d] + 1 for d in range(nd)]
    taps = []
    for tap in np.ndindex(*kshape):
        sl = tuple(slice(t * dl, t * dl + s * (o - 1) + 1, s) for t, dl, s, o in zip(tap, dilation, stride, out_sp))
        taps.append(xp[(slice(None), slice(None)) + sl])
    cols = stack(taps, 2)  # (N, C, T, *out)
    n, c = cols._data.shape[:2]
    o = weight._data.shape[0]
    cols = cols.reshape((n, groups, c // groups, len(taps)) + tuple(out_sp))
    wg = weight.reshape(groups, o // groups, c // groups, len(taps))
    out = einsum("ngct...,goct->ngo...", cols, wg).reshape((n, o) + tuple(out_sp))
    if bias is not None:
        out = out + bias.reshape((o,) + (1,) * nd)
    return out[0] if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C_in, L) with weight (C_out, C_in/groups, k)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over (N, C_in, H, W) with weight (C_out, C_in/groups, kH, kW)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")
