"""batch_norm and group_norm: one op each with a fused NumPy backward; the composites are their oracles.

>>> batch_norm(torch.randn(8, 3), None, None, training=True).mean(0).abs().max() < 1e-6
tensor(True)
"""
from __future__ import annotations

import numpy as np

from ..._autograd.grad_mode import STATE
from ..._autograd.graph import attach, node_type
from ..._ops import reduction as R
from ..._ops import unary as U
from ..._tensor import Size, Tensor
from .normalization import _check_param_dtypes

NativeBatchNormBackward0 = node_type("NativeBatchNormBackward0")
NativeGroupNormBackward0 = node_type("NativeGroupNormBackward0")


def _affine(xhat, weight, bias, shape):
    """``xhat * weight + bias`` with the per-channel parameters reshaped to ``shape`` (a fresh array)."""
    out = xhat * weight._data.reshape(shape) if weight is not None else xhat.copy()
    if bias is not None:
        out += bias._data.reshape(shape)
    return out


def _wants_grad(*ts):
    return STATE.enabled and any(t is not None and t.requires_grad for t in ts)


def _normalize(x3, axes, eps):
    """Mean, rstd (keepdims) and xhat of x over ``axes``, in x's dtype."""
    n = np.prod([x3.shape[a] for a in axes])
    mean = x3.mean(axis=axes, keepdims=True)
    xc = x3 - mean
    var = np.square(xc).sum(axis=axes, keepdims=True) / x3.dtype.type(n)
    rstd = 1.0 / np.sqrt(var + x3.dtype.type(eps))
    return mean, var, rstd, xc * rstd


def _norm_backward(gd, xhat, rstd, axes):
    """d/dx of xhat for the incoming ``gd`` = dL/dxhat (reduction over ``axes``)."""
    m1 = gd.mean(axis=axes, keepdims=True)
    m2 = (gd * xhat).mean(axis=axes, keepdims=True)
    return (gd - m1 - xhat * m2) * rstd


USE_NUMBA = True  # training-mode batch_norm through the Numba kernels (_bn_kernels); False: NumPy


def _kernels(x):
    if not USE_NUMBA or x.ndim < 2 or x.dtype not in (np.float32, np.float64):
        return None
    from . import _bn_kernels
    return _bn_kernels


def _composite_grads(composite, args, tensors, g):
    from ..._autograd.grad_mode import enable_grad
    from ..._autograd.graph import run_backward
    with enable_grad():
        out = composite(*args)
    ins = [t for t in tensors if t is not None and t.requires_grad]
    it = iter(run_backward((out,), (g,), True, True, inputs=ins, allow_unused=True))
    return tuple(next(it) if t is not None and t.requires_grad else None for t in tensors)


def _batch_norm_composite(input, weight, bias, eps):
    axes = (0,) + tuple(range(2, input._data.ndim))
    mean = R.mean(input, axes, keepdim=True)
    xc = input - mean
    y = xc * U.rsqrt(R.mean(xc * xc, axes, keepdim=True) + eps)
    shape = (1, -1) + (1,) * (input._data.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y + bias.reshape(shape) if bias is not None else y


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) over batch and spatial dims; in training, update the running stats."""
    x = input._data
    c = x.shape[1] if x.ndim > 1 else x.shape[0]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t._data.size != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t._data.size}")
    if training and x.shape[0] * int(np.prod(x.shape[2:])) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {Size(x.shape)}")
    shape = (1, c) + (1,) * (x.ndim - 2)
    if not training:
        mean = running_mean.reshape(shape)
        y = (input - mean) * U.rsqrt(running_var.reshape(shape) + eps)
        if weight is not None:
            y = y * weight.reshape(shape)
        return y + bias.reshape(shape) if bias is not None else y
    axes = (0,) + tuple(range(2, x.ndim))
    kern = _kernels(x)
    if kern is not None:  # (N, C, L) Numba passes; stats come back as (C,) float64
        wd, bd = (None if t is None else t._data for t in (weight, bias))
        out, xhat, mean, var, rstd = kern.forward(np.ascontiguousarray(x).reshape(x.shape[0], c, -1), wd, bd, eps)
        out, xhat = out.reshape(x.shape), xhat.reshape(x.shape)
        mean, var = mean.astype(x.dtype), var.astype(x.dtype)
    else:
        mean, var, rstd, xhat = _normalize(x, axes, eps)
    if running_mean is not None:
        n = x.size // c
        m = x.dtype.type(momentum)
        rm, rv = running_mean._data, running_var._data
        rm *= 1 - m
        rm += m * mean.reshape(c).astype(rm.dtype)
        rv *= 1 - m
        rv += m * (var.reshape(c) * x.dtype.type(n / max(n - 1, 1))).astype(rv.dtype)
        running_mean._version[0] += 1
        running_var._version[0] += 1
    if kern is None:
        out = _affine(xhat, weight, bias, shape)
    res = Tensor._make(out)
    if not _wants_grad(input, weight, bias):
        return res

    def backward(g):
        if STATE.enabled:
            return _composite_grads(_batch_norm_composite, (input, weight, bias, eps), (input, weight, bias), g)
        gd = g._data
        gx = gw = gb = None
        if kern is not None:
            n = x.shape[0]
            gxa, gwa, gba = kern.backward(gd.reshape(n, c, -1), xhat.reshape(n, c, -1),
                                          None if weight is None else weight._data, rstd)
            return (Tensor._make(gxa.reshape(x.shape)) if input.requires_grad else None,
                    Tensor._make(gwa) if weight is not None and weight.requires_grad else None,
                    Tensor._make(gba) if bias is not None and bias.requires_grad else None)
        if bias is not None and bias.requires_grad:
            gb = Tensor._make(gd.sum(axis=axes))
        if weight is not None and weight.requires_grad:
            gw = Tensor._make((gd * xhat).sum(axis=axes))
        if input.requires_grad:
            dxhat = gd * weight._data.reshape(shape) if weight is not None else gd
            gx = Tensor._make(_norm_backward(dxhat, xhat, rstd, axes))
        return gx, gw, gb

    return attach(res, NativeBatchNormBackward0, backward, (input, weight, bias),
                  tuple(t for t in (input, weight, bias) if t is not None))


def _group_norm_composite(input, num_groups, weight, bias, eps):
    n, c = input._data.shape[:2]
    xg = input.reshape(n, num_groups, -1)
    mean = R.mean(xg, -1, keepdim=True)
    xc = xg - mean
    y = (xc * U.rsqrt(R.mean(xc * xc, -1, keepdim=True) + eps)).reshape(input._data.shape)
    shape = (1, c) + (1,) * (input._data.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y + bias.reshape(shape) if bias is not None else y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise (N, C, *) over each of ``num_groups`` channel groups, then a per-channel affine."""
    x = input._data
    if x.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {x.ndim}")
    n, c = x.shape[:2]
    if c % num_groups != 0:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(x.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t._data.ndim != 1 or t._data.size != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(t._data.shape)} and input of shape {list(x.shape)}")
    _check_param_dtypes(input, (weight, bias), "GroupNormKernelImpl")
    if x.dtype.itemsize == 2:  # float16/bfloat16: computed in float32, returned in the input's dtype (as torch)
        w, b = (None if t is None else t.float() for t in (weight, bias))
        return group_norm(input.float(), num_groups, w, b, eps).to(input.dtype)
    xg = x.reshape(n, num_groups, -1)
    _, _, rstd, xhat = _normalize(xg, (2,), eps)
    shape = (1, c) + (1,) * (x.ndim - 2)
    xhat = xhat.reshape(x.shape)
    out = _affine(xhat, weight, bias, shape)
    res = Tensor._make(out)
    if not _wants_grad(input, weight, bias):
        return res
    red = (0,) + tuple(range(2, x.ndim))

    def backward(g):
        if STATE.enabled:
            return _composite_grads(_group_norm_composite, (input, num_groups, weight, bias, eps),
                                    (input, weight, bias), g)
        gd = g._data
        gx = gw = gb = None
        if bias is not None and bias.requires_grad:
            gb = Tensor._make(gd.sum(axis=red))
        if weight is not None and weight.requires_grad:
            gw = Tensor._make((gd * xhat).sum(axis=red))
        if input.requires_grad:
            dxhat = gd * weight._data.reshape(shape) if weight is not None else gd
            dx = _norm_backward(dxhat.reshape(n, num_groups, -1), xhat.reshape(n, num_groups, -1), rstd, (2,))
            gx = Tensor._make(dx.reshape(x.shape))
        return gx, gw, gb

    return attach(res, NativeGroupNormBackward0, backward, (input, weight, bias),
                  tuple(t for t in (input, weight, bias) if t is not None))
