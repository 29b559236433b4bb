"""``gradcheck``: analytical gradients against central finite differences.

>>> import tensorstein as torch
>>> x = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
>>> gradcheck(lambda t: (t * t).sum(), (x,))
True
"""
from __future__ import annotations

import warnings

import numpy as np

from .._tensor import Tensor
from .functional import _as_tuple, grad
from .grad_mode import enable_grad, no_grad


class GradcheckError(RuntimeError):
    pass


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored) -> bool:
    """Compare analytical gradients with central finite differences (use float64 inputs).

    Every output element's vector-Jacobian product is checked against the numerical Jacobian.
    """
    inputs = _as_tuple(inputs)
    diff_inputs = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in diff_inputs:
        if t.dtype.name != "float64":
            warnings.warn("Input #0 requires gradient and is not a double precision floating point. "
                          "gradcheck is only reliable with float64 inputs.", stacklevel=2)

    def run():
        out = func(*inputs)
        return _as_tuple(out)

    with enable_grad():
        outputs = [o for o in run() if isinstance(o, Tensor)]
    for oi, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        n_out = out._data.size
        analytical = [np.zeros((n_out, t._data.size)) for t in diff_inputs]
        for j in range(n_out):
            with enable_grad():
                outs = [o for o in run() if isinstance(o, Tensor)]
                g = np.zeros(out._data.shape, dtype=out._data.dtype)
                g.reshape(-1)[j] = 1
                got = grad(outs[oi], diff_inputs, Tensor._make(g), allow_unused=True)
            for k, gk in enumerate(got):
                if gk is not None:
                    analytical[k][j] = gk._data.reshape(-1)
        for k, t in enumerate(diff_inputs):
            flat = t._data.reshape(-1)
            numerical = np.zeros((n_out, flat.size))
            for i in range(flat.size):
                orig = flat[i]
                flat[i] = orig + eps
                with no_grad():
                    plus = np.array(run()[oi]._data, dtype=np.float64).reshape(-1)
                flat[i] = orig - eps
                with no_grad():
                    minus = np.array(run()[oi]._data, dtype=np.float64).reshape(-1)
                flat[i] = orig
                numerical[:, i] = (plus - minus) / (2 * eps)
            if not np.allclose(analytical[k], numerical, atol=atol, rtol=rtol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {oi} with respect to input {k},\n"
                        f"numerical:{numerical}\nanalytical:{analytical[k]}\n")
                return False
    return True

