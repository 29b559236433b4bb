"""Reductions (sum, mean, max, var, norm, logsumexp, softmax, ...) with ``dim``/``keepdim``.

>>> sum(tensor([[1, 2], [3, 4]]), dim=0)
tensor([4, 6])
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import _dtype as D
from .._autocast import full_precision
from .._autograd.grad_mode import grad_enabled
from .._autograd.graph import attach, node_type, needs_grad
from .._kernels.lazy import kernels
from .._tensor import Tensor, _wrap_dim
from ._common import HALF as _HALF, return_type
from ._registry import register
from .elementwise import logical_or, maximum, minimum, where
from .indexing import scatter_grad
from .unary import abs as abs_, exp, isnan


MaxResult, MinResult = return_type("max"), return_type("min")


def normalize_dims(dim, ndim: int) -> tuple | None:
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative axes; None means all."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        d = _wrap_dim(int(dim), ndim)
        return (d,) if ndim else ()  # a 0-d tensor accepts dim 0/-1 and reduces over nothing
    dims = tuple(_wrap_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    if not ndim and dims:
        return ()
    return tuple(sorted(dims)) if dims else None


def expand_grad(g, shape, dims, keepdim):
    """Broadcast a reduced gradient back to ``shape`` (re-inserting reduced dims if dropped)."""
    if dims is None:
        dims = tuple(range(len(shape)))
    if not keepdim and len(shape):
        kept = list(g._data.shape)
        for d in dims:
            kept.insert(d, 1)
        g = g.reshape(kept)
    return g.expand(shape)


def sum_to_shape(g, shape):
    """Sum a broadcast gradient down to ``shape`` (the inverse of broadcasting)."""
    lead = g._data.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and g._data.shape[i + lead] != 1)
    if not axes:
        return g.reshape(shape)
    return sum(g, dim=axes, keepdim=True).reshape(shape)


_KERNEL_MIN = 8192  # elements: from here the reduce kernels beat NumPy's sum / mean / max (measured, 1 thread)


def _kernel_reduces(x, dims, min_size):
    """Whether the ``_kernels/reduce.py`` kernel takes this reduction: float32/float64, all dims or one."""
    return x.size >= min_size and (x.dtype == np.float32 or x.dtype == np.float64) and (
        dims is None or len(dims) == 1)


def _acc_dtype(x: np.ndarray):
    return np.float32 if x.dtype in _HALF else None


def sum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum over ``dim`` (all dims when None); integers and bools sum as int64."""
    x = input._data
    dims = normalize_dims(dim, x.ndim)
    out_dtype = dtype.np if dtype is not None else (np.int64 if x.dtype.kind in "iub" else x.dtype)
    acc = _acc_dtype(x) if dtype is None else out_dtype
    if dtype is None and _kernel_reduces(x, dims, _KERNEL_MIN):  # blocked sums over the pool
        arr = kernels("reduce").sum_(x, None if dims is None else dims[0], keepdim)
    else:
        arr = np.sum(x, axis=dims, keepdims=keepdim, dtype=acc)
    res = Tensor._make(np.asarray(arr).astype(out_dtype, copy=False))
    if needs_grad(input):
        shape = x.shape
        attach(res, node_type("SumBackward1" if dims is not None else "SumBackward0"),
               lambda g: (expand_grad(g, shape, dims, keepdim),), (input,))
    return res


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """``sum`` treating NaN as zero (integers and bools sum as int64, as ``sum``)."""
    if not input.is_floating_point():
        return sum(input, dim, keepdim, dtype=dtype)
    return sum(where(isnan(input), 0.0, input), dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim: bool = False, *, dtype=None):
    x = input._data
    if dtype is None and not input.is_floating_point():
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {_scalar_name(input.dtype)}")
    if dtype is not None:
        input = input.to(dtype)
        x = input._data
    dims = normalize_dims(dim, x.ndim)
    count = x.size if dims is None else int(np.prod([x.shape[d] for d in dims]))
    with np.errstate(all="ignore"):
        if _kernel_reduces(x, dims, _KERNEL_MIN):
            arr = kernels("reduce").mean(x, None if dims is None else dims[0], keepdim)
        else:
            arr = np.mean(x, axis=dims, keepdims=keepdim, dtype=_acc_dtype(x))
    res = Tensor._make(np.asarray(arr).astype(x.dtype, copy=False))
    if needs_grad(input):
        shape = x.shape
        attach(res, node_type("MeanBackward1" if dims is not None else "MeanBackward0"),
               lambda g: (expand_grad(g / builtins.max(count, 1) if count else g * float("nan"), shape, dims,
                                      keepdim),), (input,))
    return res


def _scalar_name(d):
    return d.scalar_name


def prod(input, dim=None, keepdim: bool = False, *, dtype=None):
    if dtype is None:  # CPU autocast: float16 / bfloat16 prod computes in float32 (torch's fp32_set_opt_dtype)
        input, = full_precision(input)
    x = input._data
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError("prod(): argument 'dim' must be int")
    dims = normalize_dims(dim, x.ndim)
    out_dtype = dtype.np if dtype is not None else (np.int64 if x.dtype.kind in "iub" else x.dtype)
    arr = np.prod(x, axis=dims, keepdims=keepdim, dtype=_acc_dtype(x) or out_dtype)
    res = Tensor._make(np.asarray(arr).astype(out_dtype, copy=False))
    if needs_grad(input):
        shape = x.shape

        def backward(g):
            # product of all other elements, computed without dividing (zeros are fine)
            axis = dims[0] if dims else None
            flat = x if axis is not None else x.reshape(-1)
            ax = axis if axis is not None else 0
            ones_shape = list(flat.shape)
            ones_shape[ax] = 1
            one = np.ones(ones_shape, dtype=flat.dtype)
            left = np.cumprod(np.concatenate([one, np.take(flat, range(flat.shape[ax] - 1), axis=ax)], ax), ax) \
                if flat.shape[ax] else flat
            rev = np.flip(flat, ax)
            right = np.flip(np.cumprod(np.concatenate([one, np.take(rev, range(flat.shape[ax] - 1), axis=ax)], ax),
                                       ax), ax) if flat.shape[ax] else flat
            others = Tensor._make((left * right).reshape(shape))
            return (expand_grad(g, shape, dims, keepdim) * others,)

        attach(res, node_type("ProdBackward1" if dims is not None else "ProdBackward0"), backward, (input,),
               (input,))
    return res


# ---------------------------------------------------------------- max / min / argmax
def _extreme(input, dim, keepdim, np_arg, np_red, name, result_cls):
    x = input._data
    if dim is None:
        if x.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                               "the reduction dim with the 'dim' argument.")
        res = Tensor._make(np.asarray(_nan_red(np_red, x, None, False)))
        if needs_grad(input):
            saved = res.detach()
            attach(res, node_type(f"{name.capitalize()}Backward1"),
                   lambda g: (_even_split(g, input, saved, None, True),), (input,), (input, saved))
        return res
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    d = _wrap_dim(dim, x.ndim)
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    xa = x.astype(np.float32) if x.dtype in _HALF else x
    idx = _nan_arg(np_arg, xa, d if x.ndim else None)
    idx = np.expand_dims(idx, d) if x.ndim else np.asarray(idx)
    vals = np.take_along_axis(x, idx, d) if x.ndim else x.copy()
    if not keepdim and x.ndim:
        idx, vals = np.squeeze(idx, d), np.squeeze(vals, d)
    values = Tensor._make(vals)
    indices = Tensor._make(idx.astype(np.int64))
    if needs_grad(input):
        shape = x.shape

        def backward(g):
            if not len(shape):
                return (g,)
            gi = g if keepdim or not len(shape) else g.unsqueeze(d)
            ii = indices if keepdim or not len(shape) else indices.unsqueeze(d)
            return (scatter_grad(gi, ii, d, shape),)

        attach(values, node_type(f"{name.capitalize()}Backward0"), backward, (input,))
    return result_cls(values, indices)


def _nan_red(np_red, x, axis, keepdims):
    xa = x.astype(np.float32) if x.dtype in _HALF else x
    out = np_red(xa, axis=axis, keepdims=keepdims)  # np.max / np.min propagate NaN like torch
    return np.asarray(out).astype(x.dtype, copy=False)


def _nan_arg(np_arg, x, axis):
    if x.dtype.kind == "f":
        nan = np.isnan(x)
        if nan.any():
            # torch returns the index of the first NaN
            first_nan = np.argmax(nan, axis=axis)
            has_nan = np.any(nan, axis=axis)
            return np.where(has_nan, first_nan, np_arg(np.where(nan, 0, x), axis=axis))
    return np_arg(x, axis=axis)


def _even_split(g, input, result, dims, keepdim):
    """Gradient of a full max/min/amax: shared evenly among the elements equal to the result."""
    shape = input._data.shape
    r = expand_grad(result, shape, dims, keepdim) if dims is not None or result._data.ndim == 0 else result
    mask = (input == r)
    if input._data.dtype.kind == "f" and np.isnan(r._data).any():  # a NaN result: the NaNs get the gradient
        mask = logical_or(mask, isnan(input) & isnan(r))
    count = sum(mask, dim=dims, keepdim=True) if dims is not None else sum(mask)
    return expand_grad(g, shape, dims, keepdim) * mask / count


def max(input, dim=None, keepdim: bool = False, *, out=None):
    """Largest value; with ``dim``, a ``(values, indices)`` named tuple. ``max(a, b)`` is ``maximum``."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return _extreme(input, dim, keepdim, np.argmax, np.max, "max", MaxResult)


def min(input, dim=None, keepdim: bool = False, *, out=None):
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return _extreme(input, dim, keepdim, np.argmin, np.min, "min", MinResult)


def _amax_amin(input, dim, keepdim, np_red, name):
    x = input._data
    dims = normalize_dims(dim if dim != () else None, x.ndim)
    if x.size == 0 and dims is None:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           "reduction dim with the 'dim' argument.")
    if x.size == 0 and builtins.any(x.shape[d] == 0 for d in dims):
        raise IndexError(f"{name}(): Expected reduction dim {next(d for d in dims if x.shape[d] == 0)} to have "
                         "non-zero size.")
    if np_red is np.max and _kernel_reduces(x, dims, _KERNEL_MIN):
        res = Tensor._make(np.asarray(kernels("reduce").amax(x, None if dims is None else dims[0], keepdim)))
    else:
        res = Tensor._make(np.asarray(_nan_red(np_red, x, dims, keepdim)))
    if needs_grad(input):
        saved = res.detach()
        attach(res, node_type(f"{name.capitalize()}Backward0"),
               lambda g: (_even_split(g, input, saved, dims if dims is not None else tuple(range(x.ndim)), keepdim),),
               (input,), (input, saved))
    return res


def amax(input, dim=(), keepdim: bool = False):
    return _amax_amin(input, dim, keepdim, np.max, "amax")


def amin(input, dim=(), keepdim: bool = False):
    return _amax_amin(input, dim, keepdim, np.min, "amin")


def argmax(input, dim=None, keepdim: bool = False):
    return _arg(input, dim, keepdim, np.argmax, "argmax")


def argmin(input, dim=None, keepdim: bool = False):
    return _arg(input, dim, keepdim, np.argmin, "argmin")


def _arg(input, dim, keepdim, np_arg, name):
    x = input._data
    if x.dtype == np.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    if x.size == 0 and dim is None:
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
    if x.size == 0 and x.ndim and x.shape[_wrap_dim(dim, x.ndim)] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {_wrap_dim(dim, x.ndim)} to have non-zero size.")
    xa = x.astype(np.float32) if x.dtype in _HALF else x
    if dim is None:
        idx = np.asarray(_nan_arg(np_arg, xa.reshape(-1), 0))
        if keepdim:
            idx = idx.reshape((1,) * x.ndim)
        return Tensor._make(idx.astype(np.int64))
    d = _wrap_dim(dim, x.ndim)
    idx = _nan_arg(np_arg, xa, d if x.ndim else None)
    if keepdim and x.ndim:
        idx = np.expand_dims(idx, d)
    return Tensor._make(np.asarray(idx).astype(np.int64))


# ---------------------------------------------------------------- statistics
def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance with Bessel's ``correction`` (default 1)."""
    return _var_std(input, dim, unbiased, keepdim, correction, False)


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return _var_std(input, dim, unbiased, keepdim, correction, True)


def _var_std(input, dim, unbiased, keepdim, correction, take_sqrt):
    if isinstance(dim, bool):  # legacy var(input, unbiased)
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if not input.is_floating_point():
        raise RuntimeError("std and var only support floating point and complex dtypes")
    x = input._data
    dims = normalize_dims(dim, x.ndim)
    n = x.size if dims is None else int(np.prod([x.shape[d] for d in dims]))
    with np.errstate(all="ignore"):
        if n - correction > 0 and _kernel_reduces(x, dims, 1):  # one-pass moments, faster at every size
            v = kernels("reduce").var(x, None if dims is None else dims[0], correction, keepdim)
        else:
            v = np.var(x, axis=dims, keepdims=keepdim, ddof=correction, dtype=_acc_dtype(x) or x.dtype)
        if n - correction <= 0:
            v = np.full(np.shape(v), np.nan if n - correction < 0 or n == 0 else np.inf, dtype=np.float64)
            if n - correction == 0 and n > 0:
                v0 = np.var(x, axis=dims, keepdims=keepdim)
                v = np.where((v0 == 0) | np.isnan(v0), np.nan, np.inf)  # 0/0 and nan/0 are nan
        arr = np.sqrt(v) if take_sqrt else v
    res = Tensor._make(np.asarray(arr).astype(x.dtype, copy=False))
    if needs_grad(input):
        shape = x.shape
        saved = res.detach()

        def backward(g):
            centered = input - mean(input, dim=dims, keepdim=True)
            gv = expand_grad(g, shape, dims, keepdim)
            if take_sqrt:
                gv = gv / (expand_grad(saved, shape, dims, keepdim) * 2.0)
            dof = n - correction  # torch does not clamp it here: a negative dof flips the sign
            return (gv * centered * (2.0 / dof if dof != 0 else float("inf")),)

        attach(res, node_type("StdBackward0" if take_sqrt else "VarBackward0"), backward, (input,), (input, saved))
    return res


def var_mean(input, dim=None, *, correction=None, keepdim=False):
    return var(input, dim, keepdim=keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, *, correction=None, keepdim=False):
    return std(input, dim, keepdim=keepdim, correction=correction), mean(input, dim, keepdim)


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """Vector p-norm over ``dim`` (all elements when None); 'fro' is the 2-norm."""
    if not input.is_floating_point():
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_scalar_name(input.dtype)}")
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise NotImplementedError("nuclear norm is not supported")
    if p == 2:  # before abs_: the 2-norm needs no |x| pass
        return _l2(input, dim, keepdim)
    a = abs_(input)
    if p == float("inf"):
        return amax(a, dim if dim is not None else (), keepdim)
    if p == float("-inf"):
        return amin(a, dim if dim is not None else (), keepdim)
    if p == 0:
        return sum((input != 0).to(input.dtype), dim, keepdim)
    if p == 1:
        return sum(a, dim, keepdim)
    return sum(a ** p, dim, keepdim) ** (1.0 / p)


def _l2(input, dim, keepdim):
    x = input._data
    dims = normalize_dims(dim, x.ndim)
    if _kernel_reduces(x, dims, _KERNEL_MIN):  # sum of squares in one pass over the pool
        arr = kernels("reduce").norm(x, 2.0, None if dims is None else dims[0], keepdim)
    else:
        xa = x.astype(np.float32) if x.dtype in _HALF else x
        arr = np.sqrt(np.sum(xa * xa, axis=dims, keepdims=keepdim))
    res = Tensor._make(np.asarray(arr).astype(x.dtype, copy=False))
    if needs_grad(input):
        shape = x.shape
        saved = res.detach()

        def backward(g):
            nrm = expand_grad(saved, shape, dims, keepdim)
            return (where(nrm == 0, 0.0, expand_grad(g, shape, dims, keepdim) * input / nrm),)

        attach(res, node_type("LinalgVectorNormBackward0"), backward, (input,), (input, saved))
    return res


def logsumexp(input, dim, keepdim: bool = False):
    """log(sum(exp(x))) over ``dim``, computed stably (max-shifted)."""
    x = input._data
    if not input.is_floating_point():
        input = input.to(D.get_default_dtype())
        x = input._data
    dims = normalize_dims(dim, x.ndim)
    xa = x.astype(np.float32) if x.dtype in _HALF else x
    with np.errstate(all="ignore"):
        m = np.max(xa, axis=dims, keepdims=True) if xa.size else np.zeros([1] * xa.ndim, xa.dtype)
        m = np.where(np.isfinite(m), m, 0).astype(xa.dtype)
        s = np.log(np.sum(np.exp(xa - m), axis=dims, keepdims=True)) + m
    arr = s if keepdim else (np.squeeze(s, axis=dims) if dims is not None else s.reshape(()))
    res = Tensor._make(np.asarray(arr).astype(x.dtype, copy=False))
    if needs_grad(input):
        shape = x.shape
        saved = res.detach()
        attach(res, node_type("LogsumexpBackward0"),
               lambda g: (expand_grad(g, shape, dims, keepdim)
                          * exp(input - expand_grad(saved, shape, dims, keepdim)),),
               (input,), (input, saved))
    return res


def cumsum(input, dim, *, dtype=None):
    x = input._data
    d = _wrap_dim(dim, x.ndim)
    out_dtype = dtype.np if dtype is not None else (np.int64 if x.dtype.kind in "iub" else x.dtype)
    if out_dtype == np.float32:  # torch accumulates float32 in double on CPU
        x = x.astype(np.float32, copy=False)
    acc = np.float64 if out_dtype == np.float32 else (_acc_dtype(x) or out_dtype)
    arr = np.cumsum(x, axis=d if x.ndim else None, dtype=acc) if x.ndim else x.astype(out_dtype)
    res = Tensor._make(np.asarray(arr).astype(out_dtype, copy=False).reshape(x.shape))
    if needs_grad(input):
        attach(res, node_type("CumsumBackward0"),
               lambda g: (g.flip(d).cumsum(d).flip(d) if x.ndim else g,), (input,))
    return res


def cumprod(input, dim, *, dtype=None):
    x = input._data
    d = _wrap_dim(dim, x.ndim)
    out_dtype = dtype.np if dtype is not None else (np.int64 if x.dtype.kind in "iub" else x.dtype)
    arr = np.cumprod(x, axis=d, dtype=out_dtype) if x.ndim else x.astype(out_dtype)
    res = Tensor._make(np.asarray(arr))
    if needs_grad(input):
        saved = res.detach()
        attach(res, node_type("CumprodBackward0"),
               lambda g: ((g * saved).flip(d).cumsum(d).flip(d) / input,), (input,), (input, saved))
    return res


def all(input, dim=None, keepdim: bool = False):
    x = input._data
    dims = normalize_dims(dim, x.ndim)
    res = np.asarray(np.all(x, axis=dims, keepdims=keepdim))
    return Tensor._make(res.astype(np.uint8) if x.dtype == np.uint8 else res)


def any(input, dim=None, keepdim: bool = False):
    x = input._data
    dims = normalize_dims(dim, x.ndim)
    res = np.asarray(np.any(x, axis=dims, keepdims=keepdim))
    return Tensor._make(res.astype(np.uint8) if x.dtype == np.uint8 else res)


def count_nonzero(input, dim=None):
    x = input._data
    dims = normalize_dims(dim, x.ndim)
    return Tensor._make(np.asarray(np.count_nonzero(x, axis=dims)).astype(np.int64))


# ---------------------------------------------------------------- softmax
def _softmax_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_input(input, dim, dtype, kernel):
    """Shared preamble: the (converted) input, its dim, and the array to compute on (float32 for halves)."""
    if dtype is not None:
        input = input.to(dtype)
    x = input._data
    d = _wrap_dim(_softmax_dim(x.ndim) if dim is None else dim, x.ndim)
    if not input.is_floating_point() and x.size:  # torch skips the kernel (and its dtype check) when empty
        raise NotImplementedError(f"\"{kernel}_lastdim_kernel_impl\" not implemented for '{_scalar_name(input.dtype)}'")
    xa = x.astype(np.float32) if x.dtype in _HALF else x
    return input, x, d, xa, (d if x.ndim else None)


def _softmax_backward(g, y, d):
    # under create_graph ``y`` is recomputed with its graph so second derivatives are right
    return (y * (g - sum(g * y, dim=d, keepdim=True)),)


def softmax(input, dim=None, dtype=None):
    """exp(x - max) / sum(exp(x - max)) along ``dim``; half types compute in float32."""
    input, x, d, xa, ax = _softmax_input(input, dim, dtype, "softmax")
    fused = x.ndim and x.size
    if fused:  # the row kernel (one pass per row, rows over the pool)
        e = kernels("rows").softmax_forward(x, d)
    else:
        with np.errstate(all="ignore"):
            if xa.size:
                e = np.exp(xa - np.max(xa, axis=ax, keepdims=True))
                e /= np.sum(e, axis=ax, keepdims=True)
            else:
                e = xa.copy()
    res = Tensor._make(e.astype(x.dtype, copy=False))
    if needs_grad(input):
        y = res.detach()

        def backward(g):
            if grad_enabled():  # create_graph: tensor ops on a recomputed output
                return _softmax_backward(g, softmax(input, d), d)
            if fused:
                return (Tensor._make(kernels("rows").softmax_backward(g._data, y._data, d)),)
            return _softmax_backward(g, y, d)

        attach(res, node_type("SoftmaxBackward0"), backward, (input,), (y,))
    return res


def log_softmax(input, dim=None, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    input, x, d, xa, ax = _softmax_input(input, dim, dtype, "log_softmax")
    fused = x.ndim and x.size
    with np.errstate(all="ignore"):
        if fused:
            out = kernels("rows").log_softmax_forward(x, d)
        elif xa.size:
            shifted = xa - np.max(xa, axis=ax, keepdims=True)
            out = shifted - np.log(np.sum(np.exp(shifted), axis=ax, keepdims=True))
        else:
            out = xa.copy()
    res = Tensor._make(out.astype(x.dtype, copy=False))
    if needs_grad(input):
        y = res.detach()
        def backward(g):
            if fused and not grad_enabled():
                return (Tensor._make(kernels("rows").log_softmax_backward(g._data, y._data, d)),)
            return (g - exp(log_softmax(input, d) if grad_enabled() else y) * sum(g, dim=d, keepdim=True),)

        attach(res, node_type("LogSoftmaxBackward0"), backward, (input,), (y,))
    return res


def sum_to_size(input, *size):
    """Sum ``input`` down to ``size``, which must broadcast to ``input``'s shape (the inverse of ``expand``).

    >>> ones(2, 3).sum_to_size(3)
    tensor([2., 2., 2.])
    """
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    x = input._data
    if shape == x.shape:
        return input
    lead = x.ndim - len(shape)
    if lead < 0 or builtins.any(s != 1 and s != n for s, n in zip(shape, x.shape[lead:])):
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(x.shape)}}}.")
    return sum_to_shape(input, shape)


register(sum, nansum, mean, prod, amax, amin, argmax, argmin, var, std, norm, logsumexp, cumsum, cumprod, all, any,
         count_nonzero, softmax, log_softmax)
register(max, returns="Any")
register(min, returns="Any")
register(var_mean, method=False, returns="tuple[Tensor, Tensor]")
register(std_mean, method=False, returns="tuple[Tensor, Tensor]")
register(sum_to_size, function=False)
