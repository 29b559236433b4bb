"""A comparable, bounded summary of a loaded checkpoint (torch or tensorstein objects), for the hostile tests.

Iterative and memoised (shared objects appear once, then as references), so deep or memo-shared structures
cost their pickle size, and huge tensor views are sampled rather than copied.
"""

from __future__ import annotations

import collections

import numpy as np


def _tensor_summary(t):
    kind = "Parameter" if type(t).__name__ == "Parameter" else "Tensor"
    dtype = str(t.dtype).split(".")[-1]
    shape, stride = list(t.shape), list(t.stride())
    numel = int(np.prod(shape, dtype=object)) if shape else 1
    if numel <= 4096:
        if hasattr(t, "detach") and type(t).__module__.startswith("torch"):
            arr = t.detach().to(dtype=_torch_wide(t)).numpy()
        else:
            arr = t.detach().numpy()
            if arr.dtype.kind == "f" or arr.dtype.kind == "V" or "float" in str(arr.dtype):
                arr = arr.astype(np.float64)
        values = [_scalar(v) for v in np.asarray(arr).reshape(-1).tolist()]
    else:
        idx = [tuple(0 for _ in shape), tuple(n - 1 for n in shape), tuple(n // 2 for n in shape)]
        values = [_scalar(float(t[i].item())) for i in idx]
    return ["tensor", kind, dtype, shape, stride, bool(t.requires_grad), values]


def _torch_wide(t):
    import torch

    return torch.float64 if t.dtype in (torch.bfloat16, torch.float16, torch.float32) else t.dtype


def _scalar(v):
    if isinstance(v, float):
        return ["f", float(v).hex()]
    if isinstance(v, complex):
        return ["c", v.real.hex(), v.imag.hex()]
    return [type(v).__name__, repr(v)[:200]]


def summarize(obj):
    """A JSON-able list describing ``obj``."""
    out, memo, todo = [], {}, [obj]
    while todo:
        x = todo.pop()
        name = type(x).__name__
        if isinstance(x, (list, dict, tuple, set, frozenset)) or hasattr(x, "stride"):
            if id(x) in memo:
                out.append(["ref", memo[id(x)]])
                continue
            memo[id(x)] = len(memo)
        if hasattr(x, "stride") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
            out.append(_tensor_summary(x))
        elif isinstance(x, np.ndarray):
            out.append(["ndarray", x.dtype.str, list(x.shape), [_scalar(v) for v in x.reshape(-1)[:4096].tolist()]])
        elif isinstance(x, np.generic):
            out.append(["npscalar", x.dtype.str, _scalar(x.item())])
        elif isinstance(x, dict):
            out.append(["OrderedDict" if isinstance(x, collections.OrderedDict) else "dict", len(x),
                        sorted((k, str(v)) for k, v in vars(x).items()) if hasattr(x, "__dict__") else []])
            for k, v in reversed(list(x.items())):
                todo.append(v)
                todo.append(k)
        elif name == "Size":
            out.append(["Size", list(x)])
        elif isinstance(x, (list, tuple)):
            out.append([name, len(x)])
            todo.extend(reversed(x))
        elif isinstance(x, (set, frozenset)):
            out.append([name, sorted(repr(v)[:200] for v in x)])
        elif name in ("dtype",):
            out.append(["dtype", str(x).split(".")[-1]])
        elif name == "device":
            out.append(["device", str(x)])
        else:
            out.append(_scalar(x))
    return out
