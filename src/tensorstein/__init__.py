"""tensorstein: PyTorch's tensor API on NumPy — element-wise math, the matmul family, autograd,
attention and Transformers, fast on the CPU and without PyTorch.

>>> import tensorstein as torch
>>> torch.matmul(torch.ones(3, 4), torch.ones(4, 2)).shape
tensorstein.Size([3, 2])
"""
import math as _math

from ._dtype import (  # noqa: F401
    bool_ as bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, dtype,
    iinfo, finfo, get_default_dtype, set_default_dtype, promote_types, result_type,
)
from ._dtype import float32 as float, float64 as double, float16 as half, int64 as long, int32 as int  # noqa
from ._dtype import int16 as short  # noqa: F401
from ._device import device, get_default_device, set_default_device  # noqa: F401
from ._tensor import Tensor, Size  # noqa: F401
from . import _allocator, _methods

_methods.install()
_allocator.tune_malloc()

from ._autograd.grad_mode import (  # noqa: E402,F401
    no_grad, enable_grad, inference_mode, set_grad_enabled, is_grad_enabled,
)
from ._ops.creation import (  # noqa: E402,F401
    tensor, as_tensor, asarray, from_numpy, zeros, ones, empty, full, zeros_like, ones_like, empty_like,
    full_like, arange, linspace, logspace, eye, rand, randn, randint, randperm, rand_like, randn_like,
    randint_like, multinomial, bernoulli, manual_seed, seed, initial_seed, get_rng_state, set_rng_state,
    Generator, default_generator,
)
from ._ops.elementwise import (  # noqa: E402,F401
    add, sub, sub as subtract, mul, mul as multiply, div, div as divide, div as true_divide, floor_divide,
    remainder, fmod, pow, maximum, minimum, fmax, fmin, atan2, eq, ne, lt, le, gt, ge, gt as greater,
    ge as greater_equal, lt as less, le as less_equal, ne as not_equal, logical_and, logical_or, logical_xor,
    logical_not, bitwise_and, bitwise_or, bitwise_xor, bitwise_not, equal, isclose, allclose, rsub,
)
from ._ops.unary import (  # noqa: E402,F401
    neg, neg as negative, abs, abs as absolute, exp, exp2, expm1, log, log2, log10, log1p, sqrt, rsqrt, sin,
    cos, tan, tanh, sigmoid, asin, acos, atan, sinh, cosh, erf, reciprocal, relu, sign, floor, ceil, trunc,
    frac, square, round, clamp, clamp as clip, clamp_min, clamp_max, isnan, isinf, isfinite, isposinf,
    isneginf, nan_to_num,
)
from ._ops.reduction import (  # noqa: E402,F401
    sum, nansum, mean, prod, max, min, amax, amin, argmax, argmin, var, std, var_mean, std_mean, norm,
    logsumexp, cumsum, cumprod, all, any, count_nonzero, softmax, log_softmax,
)
from ._ops.shape import (  # noqa: E402,F401
    reshape, flatten, unflatten, squeeze, unsqueeze, transpose, swapaxes, swapdims, permute, movedim,
    moveaxis, t, adjoint, broadcast_to, clone, flip, roll, tril, triu, cat, concat, concatenate, stack,
    hstack, vstack, narrow, split, chunk, tensor_split, unbind,
)
from ._ops.indexing import (  # noqa: E402,F401
    gather, scatter, scatter_add, index_select, index_add, index_put, masked_fill, masked_select, where,
    nonzero, argwhere, select, take, take_along_dim,
)
from ._ops.linalg import (  # noqa: E402,F401
    matmul, mm, bmm, mv, dot, vdot, inner, outer, ger, addmm, addmv, addbmm, baddbmm, addr, tensordot,
    chain_matmul,
)
from ._ops.einsum import einsum  # noqa: E402,F401
from ._ops.sorting import (  # noqa: E402,F401
    sort, argsort, msort, topk, kthvalue, median, nanmedian, mode, unique, unique_consecutive,
)
from ._ops.errors import broadcast_shapes  # noqa: E402,F401
from ._repr import set_printoptions, get_printoptions, printoptions  # noqa: E402,F401
from . import autograd, linalg  # noqa: E402,F401


def is_tensor(obj) -> "bool":
    return isinstance(obj, Tensor)


def is_floating_point(input) -> "bool":
    return input.is_floating_point()


def numel(input) -> "int":
    return input.numel()


def detach(input):
    return input.detach()


def contiguous(input):
    return input.contiguous()


def expand_copy(input, size):
    return input.expand(size).clone()


def save(obj, f) -> None:
    """Save tensors (possibly inside dicts/lists) atomically; see ``tensorstein.io`` for the formats."""
    from .io._serialization import save as _save
    _save(obj, f)


def load(f, map_location=None, weights_only=True):
    """Load a checkpoint written by ``save``, ``torch.save`` or safetensors, never executing code."""
    from .io._serialization import load as _load
    return _load(f, map_location=map_location, weights_only=weights_only)


def get_num_threads() -> "int":
    from threadpoolctl import threadpool_info
    return next((i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"), 1)


def set_num_threads(n: "int") -> None:
    from threadpoolctl import threadpool_limits
    global _thread_limit
    _thread_limit = threadpool_limits(limits=n, user_api="blas")


_thread_limit = None
pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan
newaxis = None
_LAZY_SUBMODULES = ("nn", "optim", "io", "models", "backends", "accelerator", "amp", "cuda", "cpu", "utils",
                    "distributed", "profiler")
# public names whose modules load on first use: name -> (module, attribute)
_LAZY_ATTRS = {
    "compile": ("._compile", "compile"),
    "autocast": (".amp", "autocast"),
    "is_autocast_enabled": (".amp", "is_autocast_enabled"),
    "get_autocast_dtype": (".amp", "get_autocast_dtype"),
}


def __getattr__(name: str):
    # nn/optim/io/models load on first use, keeping ``import tensorstein`` fast (no Numba at import)
    import importlib

    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _LAZY_ATTRS:
        module_name, attr = _LAZY_ATTRS[name]
        value = getattr(importlib.import_module(module_name, __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tensorstein' has no attribute '{name}'")
__version__ = "0.1.0"
