"""clip_grad_norm_ / clip_grad_value_ on the parameters' ``.grad`` arrays, in place (torch's formulas)."""
from __future__ import annotations

import math

import numpy as np

from ..._tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._make(np.asarray(0.0, dtype=np.float32))
    dtype = tensors[0]._data.dtype
    if norm_type == math.inf:
        norms = [np.abs(g._data).max() if g._data.size else dtype.type(0) for g in tensors]
        total = np.max(np.asarray(norms, dtype=dtype))
    else:
        per = []
        for g in tensors:
            a = g._data.reshape(-1)
            if norm_type == 2.0:
                per.append(np.sqrt(np.dot(a, a)))
            elif norm_type == 1.0:
                per.append(np.abs(a).sum())
            else:
                per.append(np.power(np.power(np.abs(a), norm_type).sum(), 1.0 / norm_type))
        per = np.asarray(per, dtype=dtype)
        if norm_type == 2.0:
            total = np.sqrt(np.dot(per, per))
        elif norm_type == 1.0:
            total = per.sum()
        else:
            total = np.power(np.power(per, norm_type).sum(), 1.0 / norm_type)
    total = np.asarray(total, dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return Tensor._make(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    grads = _grads(parameters)
    if not grads:
        return
    tn = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    clip_coef = np.float32(max_norm) / (tn.astype(np.float32) + np.float32(1e-6)) if tn.dtype == np.float32 \
        else float(max_norm) / (tn + 1e-6)
    clip_coef_clamped = min(clip_coef, 1.0)
    for g in grads:
        g._data *= g._data.dtype.type(clip_coef_clamped)
        g._version[0] += 1


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None):
    """Scale all gradients so their joint norm is at most ``max_norm``; returns the norm before clipping."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    grads = _grads(parameters)
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)
        g._version[0] += 1


def parameters_to_vector(parameters):
    from ..._ops.shape import cat
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    pointer = 0
    for p in parameters:
        n = p.numel()
        p._data[...] = vec._data[pointer:pointer + n].reshape(p._data.shape)
        p._version[0] += 1
        pointer += n
