"""Reductions (sum, mean, max, var, norm, logsumexp, softmax, ...) with ``dim``/``keepdim``.

>>> sum(tensor([[1, 2], [3, 4]]), dim=0)
tensor([4, 6])
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import _dtype as D
from .._autocast import full_precision
from .._autograd.grad_mode import grad_enabled
from .._autograd.graph import attach, node_type, needs_grad
from .._kernels.lazy import PARALLEL_MIN, REDUCE_MIN, kernels
from .._kernels.parallel import get_num_threads
from .._tensor import Tensor, _wrap_dim
from ._common import HALF as _HALF, entry, quiet, rows_view
from ._registry import register
from .elementwise import where
from .unary import abs as abs_, exp, isnan


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
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _serial_reduce(x: np.ndarray, dim, keepdim: bool, op: int):
    """Sum (``op`` 0), sum of squares (1), NaN-propagating max (2) or squared deviations from the mean (3) of
    a float32/float64 array over all elements or its last dim (sums: or its first dim), on this thread through
    the reduce kernels' entry points (no NumPy reduction set-up: the per-call cost of small tensors); None when
    that does not apply (empty, another dim, a non-contiguous operand, or large enough for the pool)."""
    n = x.size
    dt = x.dtype
    if not n or not (dt is _F32 or dt is _F64) or (
            n >= (REDUCE_MIN if op < 2 else PARALLEL_MIN) and get_num_threads() > 1):  # sums only read: see lazy.py
        return None
    if dim is None and op < 2:
        r = np.array(entry("reduce._flat_k", dt, (1, bool))(x.ravel(), op == 1), dt)
        return r.reshape((1,) * x.ndim) if keepdim else r
    nd = x.ndim
    if dim is None:
        x2 = x.ravel().reshape(1, n)  # ravel: C-contiguous (a copy when x is not)
        shape = (1,) * nd if keepdim else ()
    elif (dim == -1 or dim == nd - 1) and nd and type(dim) is int and x.flags.c_contiguous:
        x2 = x if nd == 2 else x.reshape(-1, x.shape[-1])
        shape = x.shape[:-1] + (1,) if keepdim else x.shape[:-1]
    elif op < 2 and nd >= 2 and (dim == 0 or dim == -nd) and type(dim) is int and x.flags.c_contiguous:
        b = n // x.shape[0]  # the first dim of many columns (a bias gradient): the reduce kernels' column sum
        out = np.empty(b, dt)
        entry("reduce._colsum_k", dt, (int, int, 2, 1, bool))(0, b, x if nd == 2 else x.reshape(x.shape[0], b),
                                                             out, op == 1)
        return out if nd == 2 and not keepdim else out.reshape((1,) + x.shape[1:] if keepdim else x.shape[1:])
    else:
        return None
    out = np.empty(x2.shape[0], dt)
    entry("reduce._rows_k", dt, (2, 1, int))(x2, out, op)
    return out.reshape(shape)


def _kernel_reduces(x, dims, min_size):
    """Whether the ``_kernels/reduce.py`` kernel takes this reduction: float32/float64, all dims or one."""
    dt = x.dtype
    return x.size >= min_size and (dt is _F32 or dt is _F64 or dt == np.float32 or dt == np.float64) and (
        dims is None or len(dims) == 1)


def _acc_dtype(x: np.ndarray):
    dt = x.dtype
    return None if dt is _F32 or dt is _F64 else np.float32 if dt in _HALF else None


def sum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum over ``dim`` (all dims when None); integers and bools sum as int64."""
    x = input._data
    if dtype is None and (arr := _serial_reduce(x, dim, keepdim, 0)) is not None:
        res = Tensor._make(arr)
        if input.requires_grad and grad_enabled():
            _attach_expand(res, input, x.shape, None if dim is None else (dim % x.ndim,), keepdim, None,
                           "SumBackward1" if dim is not None else "SumBackward0")
        return res
    dims = normalize_dims(dim, x.ndim)
    out_dtype = dtype.np if dtype is not None else (np.int64 if x.dtype.kind in "iub" else x.dtype)
    acc = _acc_dtype(x) if dtype is None else out_dtype
    if dtype is None and _kernel_reduces(x, dims, _KERNEL_MIN):  # blocked sums over the pool
        arr = kernels("reduce").sum_(x, None if dims is None else dims[0], keepdim)
    else:
        arr = np.sum(x, axis=dims, keepdims=keepdim, dtype=acc)
    if type(arr) is not np.ndarray or arr.dtype is not out_dtype:
        arr = np.asarray(arr).astype(out_dtype, copy=False)
    res = Tensor._make(arr)
    if needs_grad(input):
        _attach_expand(res, input, x.shape, dims, keepdim, None, "SumBackward1" if dims is not None else "SumBackward0")
    return res


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """``sum`` treating NaN as zero (integers and bools sum as int64, as ``sum``)."""
    if not input.is_floating_point():
        return sum(input, dim, keepdim, dtype=dtype)
    return sum(where(isnan(input), 0.0, input), dim, keepdim, dtype=dtype)


def _attach_expand(res, input, shape, dims, keepdim, count, node):
    """The backward of sum / mean: the gradient (divided by ``count``) broadcast back to ``shape``; a NumPy
    broadcast view without create_graph, tensor ops (``expand_grad``) with it."""
    def backward(g):
        if grad_enabled() or count == 0:  # create_graph (or an empty mean: NaN), differentiable ops
            return (expand_grad(g if count is None else (g / count if count else g * float("nan")), shape, dims,
                                keepdim),)
        ga = g._data if count is None else g._data / count  # a Python int keeps the dtype (NEP 50)
        if dims is not None and not keepdim and len(shape):
            ga = np.expand_dims(ga, dims)
        return (Tensor._make(np.broadcast_to(ga, shape)),)

    attach(res, node_type(node), backward, (input,))


def mean(input, dim=None, keepdim: bool = False, *, dtype=None):
    x = input._data
    if dtype is None and (arr := _serial_reduce(x, dim, keepdim, 0)) is not None:
        count = x.size if dim is None else x.shape[dim]
        res = Tensor._make(quiet(np.divide, arr, arr.dtype.type(count)))
        if input.requires_grad and grad_enabled():
            _attach_expand(res, input, x.shape, None if dim is None else (dim % x.ndim,), keepdim, count,
                           "MeanBackward1" if dim is not None else "MeanBackward0")
        return res
    if dtype is None and not input.is_floating_point():
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {_scalar_name(input.dtype)}")
    if dtype is not None:
        input = input.to(dtype)
        x = input._data
    dims = normalize_dims(dim, x.ndim)
    count = x.size if dims is None else math.prod(x.shape[d] for d in dims)  # (np.prod of a list: ~2 µs)
    if _kernel_reduces(x, dims, _KERNEL_MIN):
        arr = quiet(kernels("reduce").mean, x, None if dims is None else dims[0], keepdim)
    else:
        arr = quiet(lambda: np.mean(x, axis=dims, keepdims=keepdim, dtype=_acc_dtype(x)))
    res = Tensor._make(np.asarray(arr).astype(x.dtype, copy=False))
    if needs_grad(input):
        _attach_expand(res, input, x.shape, dims, keepdim, count,
                       "MeanBackward1" if dims is not None else "MeanBackward0")
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


# ---------------------------------------------------------------- statistics
def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance with Bessel's ``correction`` (default 1)."""
    return _var_std(input, dim, unbiased, keepdim, correction, False)


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return _var_std(input, dim, unbiased, keepdim, correction, True)


def _var_std_general(x, dims, n, keepdim, correction, take_sqrt):
    """var / std by the reduce kernels (all dims or one) or NumPy; a dof <= 0 gives inf / NaN as torch."""
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
    return Tensor._make(np.asarray(arr).astype(x.dtype, copy=False))


def _var_std(input, dim, unbiased, keepdim, correction, take_sqrt):
    if isinstance(dim, bool):  # legacy var(input, unbiased)
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if not input.is_floating_point():
        raise RuntimeError("std and var only support floating point and complex dtypes")
    x = input._data
    dims = normalize_dims(dim, x.ndim)
    n = x.size if dims is None else math.prod([x.shape[d] for d in dims])
    if n - correction > 0 and (dims is None or dims == (x.ndim - 1,)) and \
            (m2 := _serial_reduce(x, None if dims is None else -1, keepdim, 3)) is not None:
        v = m2 / m2.dtype.type(n - correction)  # the squared deviations: one kernel pass per row
        res = Tensor._make(np.sqrt(v) if take_sqrt else v)
    else:
        res = _var_std_general(x, dims, n, keepdim, correction, take_sqrt)
    if needs_grad(input):
        shape = x.shape
        saved = res.detach()

        def backward(g):
            if not grad_enabled() and g._data.dtype == x.dtype and (dims is None or len(dims) == 1):
                # NumPy, no graph to record: std's gradient is var's of g / (2 std), 0 where std is 0 (torch)
                ga = g._data
                if take_sqrt:
                    half = quiet(np.divide, ga, saved._data * ga.dtype.type(2.0))
                    ga = np.where(saved._data == 0, ga.dtype.type(0.0), half)
                d = None if dims is None else dims[0]
                return (Tensor._make(kernels("reduce").var_backward(ga, x, d, correction, keepdim)),)
            centered = input - mean(input, dim=dims, keepdim=True)
            gv = expand_grad(g, shape, dims, keepdim)
            if take_sqrt:
                s2 = expand_grad(saved, shape, dims, keepdim)
                gv = where(s2 == 0, 0.0, gv / (s2 * 2.0))
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
    if p == float("inf"):  # (amax / amin live in ``extrema``, a later module: Tensor methods)
        return a.amax(dim if dim is not None else (), keepdim)
    if p == float("-inf"):
        return a.amin(dim if dim is not None else (), keepdim)
    if p == 0:
        return sum((input != 0).to(input.dtype), dim, keepdim)
    if p == 1:
        return sum(a, dim, keepdim)
    return sum(a ** p, dim, keepdim) ** (1.0 / p)


def _l2(input, dim, keepdim):
    x = input._data
    dims = normalize_dims(dim, x.ndim)
    dt = x.dtype
    if dims is None and (dt is _F32 or dt is _F64) and 0 < x.size < REDUCE_MIN:  # one kernel pass, sqrt in float64
        arr = np.array(math.sqrt(entry("reduce._flat_k", dt, (1, bool))(x.ravel(), True)), dt)
        if keepdim:
            arr = arr.reshape((1,) * x.ndim)
    elif (dims is None or dims == (x.ndim - 1,)) and \
            (sq := _serial_reduce(x, None if dims is None else -1, keepdim, 1)) is not None:
        arr = np.sqrt(sq)
    elif _kernel_reduces(x, dims, _KERNEL_MIN):  # sum of squares in one pass over the pool
        arr = kernels("reduce").norm(x, 2.0, None if dims is None else dims[0], keepdim)
    else:
        xa = x.astype(np.float32) if x.dtype in _HALF else x
        arr = np.sqrt(np.sum(xa * xa, axis=dims, keepdims=keepdim))
    res = Tensor._make(np.asarray(arr).astype(x.dtype, copy=False))
    if needs_grad(input):
        shape = x.shape
        saved = res.detach()

        def backward(g):
            if not grad_enabled() and g._data.dtype == x.dtype and (dims is None or len(dims) == 1):
                # x * (g / norm), 0 where the norm is 0 (torch's formula), in NumPy: no graph to record
                return (Tensor._make(kernels("reduce").norm_backward(g._data, x, saved._data, 2.0,
                                                                     None if dims is None else dims[0], keepdim)),)
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


def _rows_softmax(input, dim, dtype, log: bool):
    """(log-)softmax over the last dim of a float32/float64 tensor that one thread runs, by ``rows._softmax_k``
    or ``rows._log_softmax_k`` through its entry point (the per-call cost of small tensors), with its backward;
    None otherwise."""
    if not isinstance(input, Tensor):
        return None
    x = input._data
    dt = x.dtype
    n = x.size
    if not (dtype is None and (dt is _F32 or dt is _F64) and type(dim) is int and x.ndim and
            (dim == -1 or dim == x.ndim - 1) and n and (n < PARALLEL_MIN or get_num_threads() == 1)):
        return None
    x2 = x if x.ndim == 2 and x.flags.c_contiguous else rows_view(x)
    out = np.empty(x2.shape, dt)
    ep = _SOFTMAX_EP.get((dt, log)) or _SOFTMAX_EP.setdefault(
        (dt, log), entry("rows._log_softmax_k" if log else "rows._softmax_k", dt, (int, int, 2, 2)))
    ep(0, x2.shape[0], x2, out)
    if x2 is not x:
        out = out.reshape(x.shape)
    if not (input.requires_grad and grad_enabled()):
        return Tensor._make(out)
    return _attach_softmax(input, out, x.ndim - 1, log)


_SOFTMAX_EP: dict = {}


def _rows_softmax_backward(g: np.ndarray, y: np.ndarray, log: bool) -> np.ndarray:
    """``rows._softmax_bk``: the input gradient of :func:`_rows_softmax` from its output ``y``."""
    c = y.shape[-1]
    out = np.empty(y.shape, y.dtype)
    entry("rows._softmax_bk", y.dtype, (int, int, 2, 2, 2, bool))(
        0, y.size // c, g.ravel().reshape(-1, c), y.reshape(-1, c), out.reshape(-1, c), log)
    return out


def softmax(input, dim=None, dtype=None):
    """exp(x - max) / sum(exp(x - max)) along ``dim``; half types compute in float32."""
    if (res := _rows_softmax(input, dim, dtype, False)) is not None:
        return res
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


def _attach_softmax(input, out, d, log):
    """The result of the serial row path, with its backward (the row kernel, or tensor ops under create_graph)."""
    res = Tensor._make(out)
    if input.requires_grad and grad_enabled():
        y = res.detach()

        def backward(g):
            if grad_enabled():  # create_graph: tensor ops on a recomputed output
                if log:
                    return (g - exp(log_softmax(input, d)) * sum(g, dim=d, keepdim=True),)
                return _softmax_backward(g, softmax(input, d), d)
            if g._data.dtype is not out.dtype:
                g = g.to(res.dtype)
            return (Tensor._make(_rows_softmax_backward(g._data, y._data, log)),)

        attach(res, node_type("LogSoftmaxBackward0" if log else "SoftmaxBackward0"), backward, (input,), (y,))
    return res


def log_softmax(input, dim=None, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    if (res := _rows_softmax(input, dim, dtype, True)) is not None:
        return res
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


register(sum, nansum, mean, prod, var, std, norm, logsumexp, cumsum, cumprod, all, any, count_nonzero, softmax,
         log_softmax)
register(var_mean, method=False, returns="tuple[Tensor, Tensor]")
register(std_mean, method=False, returns="tuple[Tensor, Tensor]")
register(sum_to_size, function=False)
