"""Losses: cross_entropy (a fused op for the common case; the composite is the general path and the
oracle), nll_loss, mse_loss, l1_loss, smooth_l1_loss, binary_cross_entropy(_with_logits), kl_div.
"""
from __future__ import annotations

import math

import numpy as np

from ... import _dtype as D
from ..._autocast import full_precision
from ..._autograd.graph import attach, node_type
from ..._autograd.grad_mode import STATE
from ..._kernels.lazy import PARALLEL_MIN, kernels
from ..._kernels.parallel import get_num_threads
from ..._ops._common import entry
from ..._ops import reduction as R
from ..._ops import unary as U
from ..._ops.indexing import gather, where
from ..._tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")
_F32, _F64, _I64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)


def _reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{reduction} is not a valid value for reduction")
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _reduce(loss, reduction):
    if reduction == "mean":
        return R.mean(loss)
    if reduction == "sum":
        return R.sum(loss)
    return loss


def _scalar_name(t):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}[t.dtype.name]


# ---------------------------------------------------------------- nll_loss
def _class_last(input):
    """(N, C, d1, ...) -> (N*d1*..., C); (N, C) and (C,) unchanged."""
    if input._data.ndim <= 2:
        return input
    c = input._data.shape[1]
    return input.movedim(1, -1).reshape(-1, c)


def _check_nll(input, target):
    """torch's ``nll_loss_nd`` checks, in its order: dims, batch sizes, target rank, target dtype, shapes,
    input dtype."""
    x, t = input._data, target._data
    if x.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {x.ndim})")
    tb = t.shape[0] if t.ndim else 0  # torch reads sizes()[0] of a 0-d target as 0
    if x.ndim != 1 and x.shape[0] != tb:
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size ({tb}).")
    if x.ndim <= 2 and t.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target.dtype is not D.int64 and target.dtype is not D.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_scalar_name(target)}")
    if x.ndim == 1 and t.ndim == 1 and t.shape[0] != 1:
        raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {t.shape[0]}")
    if x.ndim >= 2 and t.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if x.ndim > 2 and tuple(t.shape[1:]) != tuple(x.shape[2:]):
        raise RuntimeError(f"Expected target size {list((x.shape[0],) + x.shape[2:])}, got {list(t.shape)}")
    if x.ndim > 2 and target.dtype is not D.int64:
        raise RuntimeError(f"expected scalar type Long but found {_scalar_name(target)}")
    if not input.dtype.is_floating_point:
        kernel = "nll_loss2d_forward_out_frame" if x.ndim > 2 else "nll_loss_out_frame"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_scalar_name(input)}'")


def _check_targets(t, n_classes, ignore_index):
    valid = t != ignore_index
    tv = t[valid]
    if tv.size and (tv.min() < 0 or tv.max() >= n_classes):
        bad = int(tv[(tv < 0) | (tv >= n_classes)][0])
        raise IndexError(f"Target {bad} is out of bounds.")
    return valid


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean"):
    """Negative log-likelihood of class indices under log-probabilities ``input`` (N, C, d1, ...)."""
    input, weight = full_precision(input, weight)  # torch's CPU autocast fp32 list
    reduction = _reduction(size_average, reduce, reduction)
    _check_nll(input, target)
    x = input._data
    c = x.shape[1] if x.ndim >= 2 else x.shape[0]
    if weight is not None and weight._data.shape != (c,):
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but got "
                           f"weight tensor of shape: {list(weight._data.shape)}")
    flat = _class_last(input) if x.ndim >= 2 else input.unsqueeze(0)
    t = target._data.reshape(-1).astype(np.int64)
    valid = _check_targets(t, c, ignore_index)
    safe = np.where(valid, t, 0)
    picked = gather(flat, 1, Tensor._make(safe[:, None])).reshape(-1)
    wv = valid.astype(x.dtype)
    if weight is not None:
        wv = wv * weight._data[safe]
    w_t = Tensor._make(wv)
    loss = -(picked * w_t)
    if not valid.all():  # an ignored row's -inf (or NaN) must not leak through ``* 0`` (torch skips it)
        loss = loss.masked_fill(Tensor._make(~valid), 0.0)
    if reduction == "none":  # a 1-D input gives a 0-d loss (torch squeezes its one target)
        return loss.reshape(() if x.ndim == 1 else target._data.shape)
    if reduction == "sum":
        return R.sum(loss)
    return R.sum(loss) / R.sum(w_t)


# ---------------------------------------------------------------- cross_entropy
NllLossBackward0 = node_type("NllLossBackward0")


def _cross_entropy_composite(input, target, weight=None, ignore_index=-100, reduction="mean",
                             label_smoothing=0.0):
    """cross_entropy from tensor ops: every case (the oracle for the fused op)."""
    x = input._data
    class_dim = 1 if x.ndim >= 2 else 0
    c = x.shape[class_dim]
    logp = R.log_softmax(input, class_dim)
    if tuple(target._data.shape) == tuple(x.shape):  # class probabilities
        if tuple(target._data.shape) != tuple(x.shape):
            raise RuntimeError(f"Expected target size {list(x.shape)}, got {list(target._data.shape)}")
        tgt = target
        if label_smoothing > 0:
            tgt = tgt * (1.0 - label_smoothing) + label_smoothing / c
        prod = logp * tgt
        if weight is not None:
            wshape = [1] * x.ndim
            wshape[class_dim] = c
            prod = prod * weight.reshape(wshape)
        loss = -R.sum(prod, class_dim)
        if reduction == "mean":
            n = x.shape[0] if x.ndim >= 2 else 1
            if x.ndim > 2:
                n = int(np.prod([x.shape[0]] + list(x.shape[2:])))
            return R.sum(loss) / float(n)
        return _reduce(loss, reduction)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing <= 0:
        return nll
    flat = _class_last(logp) if x.ndim >= 2 else logp.unsqueeze(0)
    t = target._data.reshape(-1)
    keep = Tensor._make((t != ignore_index).astype(x.dtype))
    if weight is not None:
        smooth = -R.sum(flat * weight, 1) * keep
    else:
        smooth = -R.sum(flat, 1) * keep
    smooth = smooth.masked_fill(Tensor._make(t == ignore_index), 0.0)
    if reduction == "mean":
        if weight is not None:
            safe = np.where(t != ignore_index, t, 0)
            denom = float((weight._data[safe] * (t != ignore_index)).sum())
            ret = R.sum(smooth) / denom
        else:
            ret = R.sum(smooth) / float((t != ignore_index).sum())
    elif reduction == "sum":
        ret = R.sum(smooth)
    else:
        ret = smooth.reshape(target._data.shape)
    return nll * (1.0 - label_smoothing) + ret * (label_smoothing / c)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """log_softmax + nll_loss over class dim 1 (class indices or class probabilities as target)."""
    input, target, weight = full_precision(input, target, weight)  # torch's CPU autocast fp32 list
    if size_average is None and reduce is None and weight is None and \
            (res := _cross_entropy_small(input, target, ignore_index, reduction, label_smoothing)) is not None:
        return res
    reduction = _reduction(size_average, reduce, reduction)
    if not (0.0 <= label_smoothing <= 1.0):
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    x = input._data
    if tuple(target._data.shape) == tuple(x.shape):  # torch: same shapes mean class probabilities
        if not target.dtype.is_floating_point:
            raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                               f"{_scalar_name(target)}")
        if x.ndim == 0:
            raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    else:
        if x.ndim == 0:
            raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
        if not input.dtype.is_floating_point and x.size:  # (an empty input skips the log_softmax kernel)
            kernel = "log_softmax_lastdim_kernel_impl" if x.ndim <= 2 else "log_softmax_kernel_impl"
            raise NotImplementedError(f"\"{kernel}\" not implemented for '{_scalar_name(input)}'")
        _check_nll(input, target)
        if x.ndim == 2 and weight is None and (x.dtype == np.float32 or x.dtype == np.float64):
            return _cross_entropy_fused(input, target, ignore_index, reduction, label_smoothing)
    return _cross_entropy_composite(input, target, weight, ignore_index, reduction, label_smoothing)


def _cross_entropy_small(input, target, ignore_index, reduction, label_smoothing):
    """``_cross_entropy_fused`` for a C-contiguous float32/float64 (N, C) input and valid int64 (N,) class
    targets that one thread handles: the row kernels through their entry points (no pool, no dispatch, no
    NumPy reductions); None when anything differs (the general path then checks, and raises torch's errors)."""
    x = input._data
    t = target._data if isinstance(target, Tensor) else None
    dt = x.dtype
    if not ((dt is _F32 or dt is _F64) and x.ndim == 2 and t is not None and t.dtype is _I64 and t.ndim == 1
            and t.shape[0] == x.shape[0] and x.size and (x.size < PARALLEL_MIN or get_num_threads() == 1)
            and x.flags.c_contiguous
            and reduction in ("mean", "sum", "none") and type(ignore_index) is int
            and type(label_smoothing) in (float, int) and 0.0 <= label_smoothing <= 1.0):
        return None
    tgt = t.ravel()
    eps_ = _CE_EP.get(dt)
    if eps_ is None:
        eps_ = _CE_EP[dt] = (entry("reduce._class_targets_k", dt, ((1, np.int64), int, int)),
                             entry("rows._ce_k", dt, (int, int, 2, (1, np.int64), int, float, 1, 1)))
    n_ignored, bad = eps_[0](tgt, ignore_index, x.shape[1])
    if bad >= 0:
        return None
    eps = float(label_smoothing)
    loss = np.empty(x.shape[0], dt)
    lse = np.empty(x.shape[0], dt)
    eps_[1](0, x.shape[0], x, tgt, ignore_index, eps, loss, lse)
    count = x.shape[0] - n_ignored
    if reduction == "none":
        out = loss
    elif reduction == "sum":
        out = np.array(entry("reduce._flat_k", dt, (1, bool))(loss, False), dt)
    else:  # the mean over the rows not ignored, summed in float64
        tot = math.fsum(loss.tolist()) if loss.shape[0] <= 256 else float(loss.sum(dtype=np.float64))
        out = np.array(tot / count if count else math.nan, dt)
    res = Tensor._make(out)
    if input.requires_grad and STATE.enabled:
        def backward(g):
            if STATE.enabled or g._data.dtype is not dt:  # create_graph: differentiate the composite
                return _cross_entropy_fused_backward(input, target, ignore_index, reduction, label_smoothing, lse, g)
            ga = g._data
            scale = np.ascontiguousarray(ga.reshape(-1)) if reduction == "none" else \
                np.array([ga.reshape(()) / (count if reduction == "mean" else 1)], dt)
            dx = np.empty(x.shape, dt)
            entry("rows._ce_bk", dt, (int, int, 2, (1, np.int64), int, float, 1, 1, 2))(
                0, x.shape[0], x, tgt, ignore_index, eps, lse, scale, dx)
            return (Tensor._make(dx),)

        attach(res, NllLossBackward0, backward, (input,))
    return res


_CE_EP: dict = {}  # dtype -> (target check, forward) entry points


def _cross_entropy_fused(input, target, ignore_index, reduction, label_smoothing=0.0):
    """(N, C) logits, class indices, no weight: one op by the row kernel (``_kernels/rows.py``); the backward
    ``(softmax - onehot) * scale`` is one pass, or the composite's gradient under create_graph."""
    x = input._data
    rk = kernels("rows")
    with np.errstate(all="ignore"):
        loss, lse = rk.cross_entropy_forward(x, target._data, ignore_index, reduction, label_smoothing)
    res = Tensor._make(loss)
    if STATE.enabled and input.requires_grad:
        attach(res, NllLossBackward0,
               lambda g: _cross_entropy_fused_backward(input, target, ignore_index, reduction, label_smoothing, lse, g),
               (input,))
    return res


def _cross_entropy_fused_backward(input, target, ignore_index, reduction, label_smoothing, lse, g):
    if STATE.enabled:  # create_graph: differentiate the composite
        from ..._autograd.graph import run_backward
        from ..._autograd.grad_mode import enable_grad
        with enable_grad():
            out = _cross_entropy_composite(input, target, None, ignore_index, reduction, label_smoothing)
        return run_backward((out,), (g,), True, True, inputs=[input])
    with np.errstate(all="ignore"):
        return (Tensor._make(kernels("rows").cross_entropy_backward(g._data, input._data, target._data, lse,
                                                                    ignore_index, reduction, label_smoothing)),)


# ---------------------------------------------------------------- regression losses
def _promoted(input, target, kernel=None):
    """Both operands in their promoted dtype (torch broadcasts them first, so a 0-d operand promotes like a
    dimensioned one); ``kernel``: the name of torch's float-only kernel, raised for integer results."""
    rt = D.promote_types(input.dtype, target.dtype)
    if kernel is not None and not rt.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{rt.scalar_name}'")
    return (input if input.dtype is rt else input.to(rt)), (target if target.dtype is rt else target.to(rt))


def _check_same_size(input, target, name):
    if tuple(input._data.shape) != tuple(target._data.shape):
        import warnings
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", stacklevel=3)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None):
    input, target, weight = full_precision(input, target, weight)  # torch's CPU autocast fp32 list
    reduction = _reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "mse_loss")
    input, target = _promoted(input, target, "mse_cpu")
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None):
    input, target, weight = full_precision(input, target, weight)  # torch's CPU autocast fp32 list
    reduction = _reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "l1_loss")
    if input.dtype is not D.bool_ and target.dtype is not D.bool_:  # torch subtracts first: bool is an error
        input, target = _promoted(input, target)
    loss = U.abs(input - target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    input, target = full_precision(input, target)  # torch's CPU autocast fp32 list
    reduction = _reduction(size_average, reduce, reduction)
    input, target = _promoted(input, target, "smooth_l1_cpu")
    d = U.abs(input - target)
    if beta == 0:
        return _reduce(d, reduction)
    loss = where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    input, target, weight = full_precision(input, target, weight)  # torch's CPU autocast fp32 list
    out_dtype = input.dtype  # torch writes the loss into a tensor like ``input``
    input, target = _promoted(input, target, "huber_cpu")
    if not out_dtype.is_floating_point:
        raise RuntimeError(f"result type {input.dtype.scalar_name} can't be cast to the desired output type "
                           f"{out_dtype.scalar_name}")
    d = U.abs(input - target)
    loss = where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    return _reduce(loss, reduction).to(out_dtype)


# ---------------------------------------------------------------- binary losses
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
    """-(t log p + (1 - t) log(1 - p)) with the logs clamped at -100, as torch."""
    input, target, weight = full_precision(input, target, weight)  # torch's CPU autocast fp32 list
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target._data.shape) != tuple(input._data.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {_scalar_name(target)} but expected {_scalar_name(input)}")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"binary_cross_entropy\" not implemented for '{_scalar_name(input)}'")
    x = input._data
    with np.errstate(invalid="ignore"):  # NaN is out of range too
        if not ((x >= 0) & (x <= 1)).all():
            raise RuntimeError("all elements of input should be between 0 and 1")
        if not ((target._data >= 0) & (target._data <= 1)).all():
            raise RuntimeError("all elements of target should be between 0 and 1")
    log_p = U.clamp_min(U.log(input), -100.0)
    log_1p = U.clamp_min(U.log(1.0 - input), -100.0)
    loss = -(target * log_p + (1.0 - target) * log_1p)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None):
    """Numerically stable sigmoid + BCE: ``(1 - t) x + (1 + (pw - 1) t) * softplus(-x)``."""
    input, target, weight, pos_weight = full_precision(input, target, weight, pos_weight)  # autocast: fp32
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target._data.shape) != tuple(input._data.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"log_sigmoid_cpu\" not implemented for '{_scalar_name(input)}'")
    if target.dtype is D.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    out_dtype = target.dtype  # torch computes the loss in place on ``1 - target``
    if not out_dtype.is_floating_point:
        raise RuntimeError(f"result type {D.result_type(input, target).scalar_name} can't be cast to the desired "
                           f"output type {out_dtype.scalar_name}")
    # log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|))
    softplus_neg = U.clamp_min(-input, 0.0) + U.log1p(U.exp(-U.abs(input)))
    if pos_weight is not None:
        log_weight = (pos_weight - 1.0) * target + 1.0
        loss = (1.0 - target) * input + log_weight * softplus_neg
    else:
        loss = (1.0 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    loss = _reduce(loss, reduction)
    return loss if loss.dtype is out_dtype else loss.to(out_dtype)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    input, target = full_precision(input, target)  # torch's CPU autocast fp32 list
    if reduction != "batchmean" or size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    if not input.dtype.is_floating_point or not target.dtype.is_floating_point:
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = U.exp(target) * (target - input)
    else:
        # torch: xlogy(t, t) - t * x, so a negative (or NaN) target gives NaN, a zero target 0 * x
        loss = where(target != 0, target * (U.log(where(target != 0, target, 1.0)) - input), 0.0 * input)
    if reduction == "batchmean":  # torch: the sum over the batch size (a 0-d input: the sum)
        return R.sum(loss) / float(input._data.shape[0]) if input._data.ndim else R.sum(loss)
    return _reduce(loss, reduction)
