"""layer_norm (one op with a fused backward; ``_layer_norm_composite`` is its oracle) and rms_norm."""
from __future__ import annotations

import numpy as np

from ... import _dtype as D
from ..._autograd.graph import attach, node_type
from ..._autograd.grad_mode import STATE
from ..._ops import reduction as R
from ..._ops import unary as U
from ..._tensor import Tensor

NativeLayerNormBackward0 = node_type("NativeLayerNormBackward0")


def _check_shape(x_shape, normalized_shape, weight, bias):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t._data.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(t._data.shape)} and normalized_shape = {list(normalized_shape)}")
    if len(x_shape) < k or tuple(x_shape[len(x_shape) - k:]) != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
                           f"{list(x_shape)}")
    return normalized_shape


def _check_param_dtypes(input, params, kernel):
    """torch's CPU dtype checks of a normalisation kernel: parameters share the input's dtype, or are float32
    for a float16/bfloat16 input (mixed type); the kernel takes floating inputs only."""
    xd = input.dtype
    ps = [p for p in params if p is not None]
    if ps and ps[0].dtype is not xd:
        for p in ps:
            if p.dtype is not D.float32:
                raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
        if xd is not D.float16 and xd is not D.bfloat16:
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    if not xd.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{xd.scalar_name}'")
    for p in ps[1:]:
        if p.dtype is not ps[0].dtype:
            raise RuntimeError(f"expected scalar type {ps[0].dtype.scalar_name} but found {p.dtype.scalar_name}")


def _layer_norm_composite(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """layer_norm from tensor ops (the oracle, and the create_graph path)."""
    normalized_shape = _check_shape(input._data.shape, normalized_shape, weight, bias)
    dims = tuple(range(-len(normalized_shape), 0))
    mean = R.mean(input, dims, keepdim=True)
    xc = input - mean
    var = R.mean(xc * xc, dims, keepdim=True)
    y = xc * U.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalise over the trailing ``normalized_shape`` dims, then scale by ``weight`` and shift by ``bias``."""
    normalized_shape = _check_shape(input._data.shape, normalized_shape, weight, bias)
    _check_param_dtypes(input, (weight, bias), "LayerNormKernelImpl")
    x = input._data
    if x.dtype != np.float32 and x.dtype != np.float64:
        if x.dtype == np.float16 or x.dtype == D.bfloat16.np:
            out = layer_norm(input.float(), normalized_shape,
                             weight.float() if weight is not None else None,
                             bias.float() if bias is not None else None, eps)
            return out.to(input.dtype)
        raise RuntimeError(f"\"LayerNormKernelImpl\" not implemented for '{input.dtype}'")
    n = int(np.prod(normalized_shape))
    needs = STATE.enabled and (input.requires_grad or (weight is not None and weight.requires_grad)
                               or (bias is not None and bias.requires_grad))
    if not needs and x.size:  # inference: one fused pass per row
        return _layer_norm_rows(x, None, None, n, weight, bias, eps)
    rows = x.reshape(-1, n) if x.size else x.reshape(0, n)
    mean = rows.mean(axis=1, keepdims=True)
    xc = rows - mean
    var = np.einsum("ij,ij->i", xc, xc)[:, None] / x.dtype.type(n) if rows.shape[0] else mean
    rstd = 1.0 / np.sqrt(var + x.dtype.type(eps))
    xhat = xc
    xhat *= rstd
    w = weight._data.reshape(-1) if weight is not None else None
    b = bias._data.reshape(-1) if bias is not None else None
    if w is not None:
        out = xhat * w
        if b is not None:
            out += b
    elif b is not None:
        out = xhat + b
    else:
        out = xhat.copy()
    res = Tensor._make(out.reshape(x.shape))
    if needs:
        def backward(g):
            if STATE.enabled:  # create_graph: differentiate the composite
                return _composite_backward(input, normalized_shape, weight, bias, eps, g)
            gd = g._data.reshape(-1, n)
            gx = gw = gb = None
            if bias is not None and bias.requires_grad:
                gb = Tensor._make(gd.sum(axis=0).reshape(bias._data.shape))
            if weight is not None and weight.requires_grad:
                gw = Tensor._make(np.einsum("ij,ij->j", gd, xhat).reshape(weight._data.shape))
            if input.requires_grad:
                dxhat = gd * w if w is not None else gd
                m1 = dxhat.mean(axis=1, keepdims=True)
                m2 = np.einsum("ij,ij->i", dxhat, xhat)[:, None] / x.dtype.type(n)
                gxa = dxhat - m1
                gxa -= xhat * m2
                gxa *= rstd
                gx = Tensor._make(gxa.reshape(x.shape))
            return gx, gw, gb

        attach(res, NativeLayerNormBackward0, backward, (input, weight, bias),
               tuple(t for t in (input, weight, bias) if t is not None))
    return res


def _layer_norm_rows(x, x_bias, residual, n, weight, bias, eps):
    """The no-autograd kernel: LayerNorm(x + x_bias + residual) over rows of ``n`` (arrays or None)."""
    from . import _fused

    rows = np.ascontiguousarray(x).reshape(-1, n)
    res = np.ascontiguousarray(residual, dtype=x.dtype).reshape(-1, n) if residual is not None else rows[:0]
    w = weight._data.reshape(-1).astype(x.dtype, copy=False) if weight is not None else np.ones(n, x.dtype)
    b = bias._data.reshape(-1).astype(x.dtype, copy=False) if bias is not None else np.zeros(n, x.dtype)
    xb = x_bias.reshape(-1).astype(x.dtype, copy=False) if x_bias is not None else np.zeros(n, x.dtype)
    out = np.empty_like(rows)
    _fused.layer_norm_rows(rows, xb, res, w, b, x.dtype.type(eps), out)
    return Tensor._make(out.reshape(x.shape))


def _add_layer_norm(input, input_bias, residual, normalized_shape, weight, bias, eps):
    """``layer_norm(input + input_bias + residual)`` in one pass (inference; composite with autograd).

    >>> import tensorstein as ts
    >>> x = ts.randn(2, 3, 4)
    >>> y = _add_layer_norm(x, ts.ones(4), x, (4,), None, None, 1e-5)
    >>> bool((y - layer_norm(x + 1.0 + x, (4,))).abs().max() < 1e-5)
    True
    """
    x = input._data
    n = int(np.prod(normalized_shape))
    needs = STATE.enabled and any(t is not None and t.requires_grad
                                  for t in (input, input_bias, residual, weight, bias))
    if needs or x.dtype not in (np.float32, np.float64) or not x.size or residual._data.shape != x.shape:
        h = input + input_bias if input_bias is not None else input
        return layer_norm(h + residual, normalized_shape, weight, bias, eps)
    _check_shape(x.shape, normalized_shape, weight, bias)
    return _layer_norm_rows(x, None if input_bias is None else input_bias._data, residual._data, n, weight, bias,
                            eps)


def _composite_backward(input, normalized_shape, weight, bias, eps, g):
    """The gradients of the composite layer_norm (with a graph, for create_graph=True)."""
    from ..._autograd.graph import run_backward
    from ..._autograd.grad_mode import enable_grad
    with enable_grad():
        out = _layer_norm_composite(input, normalized_shape, weight, bias, eps)
    inputs = [t for t in (input, weight, bias) if t is not None and t.requires_grad]
    grads = run_backward((out,), (g,), retain_graph=True, create_graph=True, inputs=inputs, allow_unused=True)
    it = iter(grads)
    return tuple(next(it) if (t is not None and t.requires_grad) else None for t in (input, weight, bias))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing dims; eps defaults to finfo(dtype).eps."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    x_shape = tuple(input._data.shape)
    if weight is not None and tuple(weight._data.shape) != normalized_shape:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
                           f"{list(weight._data.shape)} and normalized_shape = {list(normalized_shape)}")
    if not x_shape:
        raise ValueError("Input tensor must have at least 1 dimensions, but got 0")
    k = len(normalized_shape)
    if len(x_shape) < k or x_shape[len(x_shape) - k:] != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*{', '.join(str(s) for s in normalized_shape)}], but got input of size"
                           f"{list(x_shape)}")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"rms_norm\" not implemented for '{input.dtype.scalar_name}'")
    if eps is None:
        eps = float(np.finfo(input._data.dtype if input._data.dtype != D.bfloat16.np else np.float32).eps) \
            if input._data.dtype != D.bfloat16.np else 0.0078125
    dims = tuple(range(-k, 0))
    y = input * U.rsqrt(R.mean(input * input, dims, keepdim=True) + eps)
    return y * weight if weight is not None else y
