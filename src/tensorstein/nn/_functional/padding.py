"""pad: constant (an op with its own backward) and reflect/replicate/circular (index_select)."""
from __future__ import annotations

import numpy as np

from ..._autocast import full_precision
from ..._autograd.graph import attach, node_type, needs_grad
from ..._tensor import Tensor

ConstantPadNdBackward0 = node_type("ConstantPadNdBackward0")

_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input, pad, mode: str = "constant", value=None):
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)``; negative values crop."""
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    x = input._data
    if len(pad) // 2 > x.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {x.ndim}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        return _constant_pad(input, widths, 0.0 if value is None else value)
    if mode not in _NP_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    k = len(pad) // 2
    if x.ndim not in (k + 1, k + 2):  # torch: 1-3 padded dims of an unbatched or batched input
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {x.ndim}D input tensor.")
    if mode != "circular" and 0 in (x.shape[1:] if x.ndim == k + 2 else x.shape):
        raise RuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch size and other "
                           f"non-zero dimensions for input, but got: {list(x.shape)}")
    if mode != "circular" and x.dtype == np.bool_:
        kernel = ("reflection" if mode == "reflect" else "replication") + f"_pad{k}d"
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    if mode == "circular" and any(lo > x.shape[d] or hi > x.shape[d] for d, (lo, hi) in enumerate(widths)):
        raise RuntimeError("Padding value causes wrapping around more than once.")
    if mode == "replicate" or (mode == "reflect" and k < 3):  # CPU autocast fp32 list: replication_pad1d/2d/3d,
        input, = full_precision(input)  # reflection_pad1d/2d
    # non-constant modes: an index_select per padded dim (differentiable through index_select)
    from ..._ops.indexing import index_select
    out = input
    for d, (lo, hi) in enumerate(widths):
        if lo == 0 and hi == 0:
            continue
        n = x.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {d} of input {list(x.shape)}")
        ar = np.arange(n)
        ar = ar[max(-lo, 0): n - max(-hi, 0)]
        ids = np.pad(ar, (max(lo, 0), max(hi, 0)), mode=_NP_MODES[mode])
        out = index_select(out, d, Tensor._make(ids.astype(np.int64)))
    return out


def _constant_pad(input, widths, value):
    x = input._data
    crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
    xc = x[crop]
    pos = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    out = np.pad(xc, pos, mode="constant", constant_values=np.array(value).astype(x.dtype))
    res = Tensor._make(out)
    if needs_grad(input):
        in_shape = x.shape
        inner = tuple(slice(lo, lo + xc.shape[d]) for d, (lo, _) in enumerate(pos))

        def backward(g):
            gi = g[inner]
            if gi._data.shape == in_shape:
                return (gi,)
            back = [(c.start, s - c.stop) for c, s in zip(crop, in_shape)]
            return (_constant_pad(gi, back, 0.0),)

        attach(res, ConstantPadNdBackward0, backward, (input,))
    return res
