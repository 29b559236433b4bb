"""tensorstein: PyTorch's tensor API on NumPy — element-wise math, the matmul family, autograd,
attention and Transformers, fast on the CPU and without PyTorch.

>>> import tensorstein as torch
>>> torch.matmul(torch.ones(3, 4), torch.ones(4, 2)).shape
tensorstein.Size([3, 2])
"""
import math as _math

from ._dtype import (  # noqa: F401
    dtype, iinfo, finfo, get_default_dtype, set_default_dtype, promote_types, result_type,
)
from ._device import device, get_default_device, set_default_device  # noqa: F401
from ._tensor import Tensor, Size  # noqa: F401
from ._autograd.grad_mode import (  # noqa: F401
    no_grad, enable_grad, inference_mode, set_grad_enabled, is_grad_enabled,
)
from ._ops._install import NAMESPACE as _NAMESPACE
from ._ops.random import Generator, default_generator  # noqa: F401
from ._ops.errors import broadcast_shapes  # noqa: F401
from ._repr import set_printoptions, get_printoptions, printoptions  # noqa: F401
from ._legacy import LEGACY_TYPES as _LEGACY_TYPES
from ._storage import TypedStorage, UntypedStorage  # noqa: F401
from . import _allocator, _dtype, autograd, linalg  # noqa: F401
from ._kernels.parallel import get_num_threads, set_num_threads  # noqa: F401

globals().update(_dtype.PUBLIC_NAMES)  # tensorstein.float32, .float, .bool, ...: from the dtype rows
globals().update(_NAMESPACE)  # every registered op: tensorstein.add, tensorstein.matmul, ...
globals().update(_LEGACY_TYPES)  # LongTensor, FloatTensor, ...: from the dtype rows
del _NAMESPACE, _LEGACY_TYPES
_allocator.tune_malloc()


def save(obj, f) -> None:
    """Save tensors (possibly inside dicts/lists) atomically; see ``tensorstein.io`` for the formats."""
    from .io._serialization import save as _save
    _save(obj, f)


def load(f, map_location=None, weights_only=True):
    """Load a checkpoint written by ``save``, ``torch.save`` or safetensors, never executing code."""
    from .io._serialization import load as _load
    return _load(f, map_location=map_location, weights_only=weights_only)


pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan
newaxis = None
_LAZY_SUBMODULES = ("nn", "optim", "io", "models", "distributed", "utils", "random", "backends", "accelerator",
                    "amp", "cuda", "cpu", "onnx", "profiler")
# public names whose modules load on first use: name -> (module, attribute)
_LAZY_ATTRS = {
    "compile": ("._compile", "compile"),
    "autocast": (".amp", "autocast"),
    "is_autocast_enabled": (".amp", "is_autocast_enabled"),
    "get_autocast_dtype": (".amp", "get_autocast_dtype"),
}


def __getattr__(name: str):
    # nn/optim/io/models/amp load on first use, keeping ``import tensorstein`` fast (no Numba at import)
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
