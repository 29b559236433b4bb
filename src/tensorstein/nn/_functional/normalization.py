"""layer_norm (one op with a fused backward; ``_layer_norm_composite`` is its oracle) and rms_norm."""
from __future__ import annotations

import numpy as np

from ... import _dtype as D
from ..._autograd.graph import attach, node_type
from ..._autograd.grad_mode import STATE
from ..._kernels.lazy import PARALLEL_MIN, kernels
from ..._kernels.parallel import get_num_threads
from ..._ops._common import entry, kernel_fn, rows_view, serial_below
from ..._ops import reduction as R
from ..._ops import unary as U
from ..._tensor import Tensor

NativeLayerNormBackward0 = node_type("NativeLayerNormBackward0")
MulBackward0 = node_type("MulBackward0")


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
    """Normalise over the trailing ``normalized_shape`` dims, then scale by ``weight`` and shift by ``bias``.

    One pass per row by the row kernel (``_kernels/rows.py``; half types in float32); the backward is the
    kernel's one pass too, or the composite's gradient under create_graph."""
    x = input._data
    w = weight._data if weight is not None else None
    b = bias._data if bias is not None else None
    plain = _plain_rows(x, normalized_shape, w, b)
    if plain:  # the common case, checked cheaply: the row kernels straight away (entry points or the team)
        y, mean, rstd = _rows_forward(x, w, b, eps)
    else:
        normalized_shape = _check_shape(input._data.shape, normalized_shape, weight, bias)
        _check_param_dtypes(input, (weight, bias), "LayerNormKernelImpl")
        if input.dtype.name not in ("float32", "float64", "float16", "bfloat16"):
            raise RuntimeError(f"\"LayerNormKernelImpl\" not implemented for '{input.dtype}'")
        y, mean, rstd = kernels("rows").layer_norm_forward(x, normalized_shape, w, b, eps)
    res = Tensor._make(y)
    if STATE.enabled and (input.requires_grad or (weight is not None and weight.requires_grad) or
                          (bias is not None and bias.requires_grad)):
        def backward(g):
            if STATE.enabled:  # create_graph: differentiate the composite
                return _composite_backward(input, normalized_shape, weight, bias, eps, g)
            if plain and g._data.dtype is x.dtype:
                dx, dw, db = _rows_backward(g._data, x, mean, rstd, w, b)
            else:
                dx, dw, db = kernels("rows").layer_norm_backward(g._data, x, mean, rstd, normalized_shape, w, b)
            return (Tensor._make(dx) if input.requires_grad else None,
                    Tensor._make(dw) if weight is not None and weight.requires_grad else None,
                    Tensor._make(db) if bias is not None and bias.requires_grad else None)

        attach(res, NativeLayerNormBackward0, backward, (input, weight, bias),
               tuple(t for t in (input, weight, bias) if t is not None))
    return res


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_NONE = {_F32: np.empty(0, _F32), _F64: np.empty(0, _F64)}  # an absent weight / bias for the row kernels (read-only)


def _plain_rows(x, normalized_shape, w, b) -> bool:
    """A float32/float64 layer_norm over the last dim, weight and bias (if any) of its dtype and size: every
    check of ``layer_norm`` passes, and the row kernels run on the arrays as they are."""
    dt = x.dtype
    if not (dt is _F32 or dt is _F64) or not x.ndim or not x.size:
        return False
    c = x.shape[-1]
    if not (normalized_shape == c if type(normalized_shape) is int else
            (type(normalized_shape) in (tuple, list) and len(normalized_shape) == 1
             and type(normalized_shape[0]) is int and normalized_shape[0] == c)):
        return False
    return (w is None or (w.dtype is dt and w.shape == (c,))) and (b is None or (b.dtype is dt and b.shape == (c,)))


def _one_thread(x) -> bool:
    """Whether the row kernels run on the calling thread, through their entry points (no dispatch)."""
    return x.size < PARALLEL_MIN or get_num_threads() == 1 or x.size < serial_below("rows._norm_k")


def _rows_forward(x, w, b, eps):
    """``(y, mean, rstd)`` of ``rows._norm_k`` over the rows of ``x`` (see :func:`_plain_rows`), row ranges
    over the team's threads when large."""
    dt = x.dtype
    x2 = rows_view(x)  # (R, C)
    out = np.empty(x2.shape, dt)
    mean = np.empty(x2.shape[0], dt)
    rstd = np.empty(x2.shape[0], dt)
    w1 = _NONE[dt] if w is None else w if w.flags.c_contiguous else w.ravel()
    b1 = _NONE[dt] if b is None else b if b.flags.c_contiguous else b.ravel()
    if _one_thread(x):
        entry("rows._norm_k", dt, (int, int, 2, 1, 1, float, 2, 1, 1, bool))(
            0, x2.shape[0], x2, w1, b1, eps, out, mean, rstd, True)
    else:
        kernels("elementwise_engine").map_rows(kernel_fn("rows._norm_k"), x2.shape[0], x2.shape[1], x2, w1, b1,
                                               dt.type(eps), out, mean, rstd, True)
    return out if out.shape == x.shape else out.reshape(x.shape), mean, rstd


def _rows_backward(g, x, mean, rstd, w, b):
    """``(dx, dweight, dbias)`` of ``rows._norm_bk`` (the counterpart of :func:`_rows_forward`): each row
    range adds its own partial dweight / dbias, summed in range order."""
    dt = x.dtype
    x2 = rows_view(x)
    n, c = x2.shape
    dx = np.empty(x2.shape, dt)
    w1 = _NONE[dt] if w is None else w if w.flags.c_contiguous else w.ravel()
    if _one_thread(x):
        part = np.zeros((2, c), dt)  # (dweight, dbias)
        entry("rows._norm_bk", dt, (int, int, 2, 2, 1, 1, 1, 2, 2, bool))(
            0, n, rows_view(g), x2, w1, mean, rstd, dx, part, True)
    else:
        part = kernels("rows").norm_backward_rows(rows_view(g), x2, w1, mean, rstd, dx, True)
    return dx.reshape(x.shape), None if w is None else part[0], None if b is None else part[1]


def _layer_norm_rows(x, x_bias, residual, n, weight, bias, eps):
    """The no-autograd path: LayerNorm(x + x_bias + residual) over rows of ``n`` (arrays or None)."""
    h = x if x_bias is None else x + x_bias.astype(x.dtype, copy=False)
    if residual is not None:
        h = h + residual.astype(x.dtype, copy=False)
    w = weight._data if weight is not None else None
    b = bias._data if bias is not None else None
    y = kernels("rows").layer_norm_forward(h.reshape(-1, n), (n,), w if w is None else w.reshape(-1),
                                           b if b is None else b.reshape(-1), eps)[0]
    return Tensor._make(y.reshape(x.shape))


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
    if input.dtype.name not in ("float32", "float64", "float16", "bfloat16"):
        return _rms_norm_composite(input, normalized_shape, weight, eps)
    x = input._data
    w = weight._data if weight is not None else None
    rk = kernels("rows")
    y, rstd = rk.rms_norm_forward(x, normalized_shape, w, eps)
    res = Tensor._make(y)
    if STATE.enabled and (input.requires_grad or (weight is not None and weight.requires_grad)):
        def backward(g):
            if STATE.enabled:  # create_graph: differentiate the composite
                from ..._autograd.graph import run_backward
                from ..._autograd.grad_mode import enable_grad
                with enable_grad():
                    out = _rms_norm_composite(input, normalized_shape, weight, eps)
                wanted = [t for t in (input, weight) if t is not None and t.requires_grad]
                grads = iter(run_backward((out,), (g,), True, True, inputs=wanted, allow_unused=True))
                return tuple(next(grads) if t is not None and t.requires_grad else None for t in (input, weight))
            dx, dw = rk.rms_norm_backward(g._data, x, rstd, normalized_shape, w)
            return (Tensor._make(dx) if input.requires_grad else None,
                    Tensor._make(dw) if weight is not None and weight.requires_grad else None)

        # torch's CPU rms_norm is a composite whose last op is a multiply: the same grad_fn name
        attach(res, MulBackward0, backward, (input, weight), tuple(t for t in (input, weight) if t is not None))
    return res


def _rms_norm_composite(input, normalized_shape, weight, eps):
    """rms_norm from tensor ops (the oracle of the row kernel, and the create_graph path)."""
    dims = tuple(range(-len(normalized_shape), 0))
    y = input * U.rsqrt(R.mean(input * input, dims, keepdim=True) + eps)
    return y * weight if weight is not None else y
