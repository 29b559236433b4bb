"""Weight initialisation, in place and without gradient tracking, with torch's formulas."""
from __future__ import annotations

import math
import warnings

import numpy as np

from .._autograd.grad_mode import no_grad
from .._ops import random as _random


def calculate_gain(nonlinearity, param=None):
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    dimensions = tensor.dim()
    if dimensions < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    num_input_fmaps = tensor.size(1)
    num_output_fmaps = tensor.size(0)
    receptive_field_size = 1
    if dimensions > 2:
        for s in tensor.shape[2:]:
            receptive_field_size *= s
    return num_input_fmaps * receptive_field_size, num_output_fmaps * receptive_field_size


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _write(tensor, arr):
    np.copyto(tensor._data, arr, casting="unsafe")
    tensor._version[0] += 1
    return tensor


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with U(a, b) from torch's stream: ``nn.init.uniform_(w, -0.1, 0.1)`` after ``manual_seed``."""
    with no_grad():
        return _random.uniform_(tensor, a, b, generator=generator)


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with N(mean, std^2) from torch's stream."""
    with no_grad():
        return _random.normal_(tensor, mean, std, generator=generator)


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None):
    """Normal(mean, std) truncated to [a, b] (inverse-CDF method, as torch)."""
    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values may "
                      "be incorrect.", stacklevel=2)
    with no_grad():
        if norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std) > 0.3:
            return _trunc_by_normals(tensor, mean, std, a, b, generator)
        return _trunc_by_uniforms(tensor, mean, std, a, b, generator)


def _fresh(x, fill, *args, generator=None):
    """A new array like ``x`` filled by the sampler ``fill`` (draws in torch's order)."""
    from .._tensor import Tensor
    return fill(Tensor._make(np.empty(x.shape, x.dtype)), *args, generator=generator)._data


def _trunc_by_normals(tensor, mean, std, a, b, generator):
    """torch's rejection sampler for wide intervals: redraw a whole normal tensor until none falls outside."""
    t = tensor._data.dtype.type
    lo, hi = float(t(a)), float(t(b))
    result = _random.normal_(tensor, mean, std, generator=generator)._data.copy()
    while True:
        mask = (result < lo) | (result > hi)
        if not mask.any():
            break
        result = np.where(mask, _fresh(result, _random.normal_, mean, std, generator=generator), result)
    return _write(tensor, result)


def _trunc_by_uniforms(tensor, mean, std, a, b, generator):
    """torch's rejection sampler for narrow intervals: uniform proposals accepted by ``log U < log pdf``."""
    t = tensor._data.dtype.type
    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2

    def log_pdf(c):
        z = (c - t(mean)) / t(std)
        return z * z * t(-0.5) - t(log_peak)

    def accept_draw(x):
        with np.errstate(divide="ignore"):
            return np.log(_fresh(x, _random.uniform_, 0.0, 1.0, generator=generator)) > log_pdf_cand[0]

    result = _random.uniform_(tensor, a, b, generator=generator)._data.copy()
    log_pdf_cand = [log_pdf(result)]
    pending = accept_draw(result)
    while pending.any():
        cand = _fresh(result, _random.uniform_, a, b, generator=generator)
        result = np.where(pending, cand, result)
        log_pdf_cand[0] = log_pdf(cand)
        pending = np.where(pending, accept_draw(result), pending)
    return _write(tensor, result)


def constant_(tensor, val: float):
    with no_grad():
        return _write(tensor, val)


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    with no_grad():
        return _write(tensor, np.eye(*tensor._data.shape))


def dirac_(tensor, groups=1):
    raise NotImplementedError("dirac_ is not implemented in tensorstein")


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity) -> float:
    """He et al.'s standard deviation: gain / sqrt(fan)."""
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None):
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None):
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain=1, generator=None):
    if tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    from .._tensor import Tensor
    flat = _random.normal_(Tensor._make(np.empty((rows, cols), tensor._data.dtype)), generator=generator)._data
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r)).astype(q.dtype)
    if rows < cols:
        q = q.T
    with no_grad():
        return _write(tensor, (q * q.dtype.type(gain)).reshape(tensor._data.shape))


# old names
uniform = uniform_
normal = normal_
constant = constant_
xavier_uniform = xavier_uniform_
xavier_normal = xavier_normal_
kaiming_uniform = kaiming_uniform_
kaiming_normal = kaiming_normal_
