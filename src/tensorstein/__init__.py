"""tensorstein: PyTorch's tensor API on NumPy — element-wise math, the matmul family, autograd,
attention and Transformers, fast on the CPU and without PyTorch.

>>> import tensorstein as torch
>>> torch.matmul(torch.ones(3, 4), torch.ones(4, 2)).shape
tensorstein.Size([3, 2])
"""
from ._dtype import (  # noqa: F401
    dtype, iinfo, finfo, get_default_dtype, set_default_dtype, promote_types, result_type,
)
from ._device import device, cuda  # noqa: F401
from ._tensor import Tensor, Size  # noqa: F401
from ._autograd.grad_mode import (  # noqa: F401
    no_grad, enable_grad, inference_mode, set_grad_enabled, is_grad_enabled,
)
from ._ops._install import NAMESPACE as _NAMESPACE
from ._ops.random import Generator, default_generator  # noqa: F401
from ._ops.errors import broadcast_shapes  # noqa: F401
from ._repr import set_printoptions, get_printoptions, printoptions  # noqa: F401
from . import _allocator, _dtype, autograd, linalg  # noqa: F401
from ._kernels.parallel import get_num_threads, set_num_threads  # noqa: F401

globals().update(_dtype.PUBLIC_NAMES)  # tensorstein.float32, .float, .bool, ...: from the dtype rows
globals().update(_NAMESPACE)  # every registered op: tensorstein.add, tensorstein.matmul, ...
del _NAMESPACE
_allocator.tune_malloc()


def save(obj, f) -> None:
    """Save tensors (possibly inside dicts/lists) atomically; see ``tensorstein.io`` for the formats."""
    from .io._serialization import save as _save
    _save(obj, f)


def load(f, map_location=None, weights_only=True):
    """Load a checkpoint written by ``save``, ``torch.save`` or safetensors, never executing code."""
    from .io._serialization import load as _load
    return _load(f, map_location=map_location, weights_only=weights_only)


_LAZY_SUBMODULES = ("nn", "optim", "io", "models", "distributed", "utils", "random", "profiler")


def __getattr__(name: str):
    # nn/optim/io/models load on first use, keeping ``import tensorstein`` fast (no Numba at import)
    if name in _LAZY_SUBMODULES:
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tensorstein' has no attribute '{name}'")
__version__ = "0.1.0"
