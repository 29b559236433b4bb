"""The Tensor: one NumPy array plus autograd state. The op methods and operators come from the op
registry (``_ops/_registry.py``), installed when ``tensorstein`` is imported; ``_tensor.pyi`` is their stub.

>>> import tensorstein as torch
>>> torch.tensor([[1.0, 2.0]]).shape
tensorstein.Size([1, 2])
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _dtype as D
from ._autograd.functional import backward as _backward
from ._autograd.graph import retain_ref
from ._device import CPU, device as _device_type, check_device
from ._repr import format_tensor
from ._storage import typed_storage, untyped_storage


class Size(tuple):
    """A tensor's shape: a tuple of ints whose repr is ``tensorstein.Size([3, 4])``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"tensorstein.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


class Tensor:
    """An n-dimensional array of one dtype, optionally tracking gradients."""

    __module__ = "tensorstein"  # ``type(t)`` shows ``<class 'tensorstein.Tensor'>``, as torch's does

    __slots__ = ("_data", "requires_grad", "_grad", "grad_fn", "_version", "_hooks", "_retains_grad",
                 "__weakref__", "__dict__")
    __array_priority__ = 1000  # make NumPy defer to Tensor's reflected operators
    _data: np.ndarray  # the values (NumPy owns storage, strides and views)
    requires_grad: bool
    _grad: Tensor | None
    grad_fn: Any  # the autograd Node that produced this tensor (None for a leaf)
    _version: list[int]  # shared with views: bumped by every in-place write
    _hooks: list | None
    _retains_grad: bool

    def __init__(self, *args, **kwargs):
        # legacy constructor: Tensor(2, 3) is an uninitialised float tensor, Tensor([1, 2]) copies data
        if len(args) == 1 and not isinstance(args[0], (int, np.integer, Size)):
            if isinstance(args[0], (float, bool, np.generic)):
                raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")
            arr = _to_array(args[0], D.get_default_dtype())
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], Size) else args if args else (0,)
            arr = np.zeros(tuple(int(s) for s in shape), dtype=D.get_default_dtype().np)
        _init(self, arr)

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _make(arr: np.ndarray) -> "Tensor":
        """Wrap an array without copying (NumPy scalars become 0-d arrays)."""
        t = object.__new__(Tensor)  # _init inlined: every op result goes through here
        t._data = arr if type(arr) is np.ndarray else np.asarray(arr)
        t.requires_grad = False
        t._grad = None
        t.grad_fn = None
        t._version = [0]
        t._hooks = None
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    @property
    def dtype(self) -> D.dtype:
        return D._BY_NP[self._data.dtype]

    @property
    def device(self) -> _device_type:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_cpu(self) -> bool:
        return True

    @property
    def layout(self):
        return "strided"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def stride(self, dim: int | None = None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim)]

    def data_ptr(self) -> int:
        return self._data.__array_interface__["data"][0]

    def storage_offset(self) -> int:
        start = typed_storage(self._data).data_ptr()
        return (self.data_ptr() - start) // self._data.itemsize

    def storage(self):
        """The elements of the memory this tensor views (torch's ``TypedStorage``)."""
        return typed_storage(self._data)

    def untyped_storage(self):
        """The bytes of the memory this tensor views (torch's ``UntypedStorage``)."""
        return untyped_storage(self._data)

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    def is_contiguous(self, memory_format=None) -> bool:
        return self._data.flags.c_contiguous

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f" or self._data.dtype == D.bfloat16.np

    def is_complex(self) -> bool:
        return False

    @property
    def grad(self) -> "Tensor | None":
        return self._grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{value.dtype.cpp_name}' to a tensor with "
                    f"grad_dtype '{self.dtype.scalar_name}'. The gradient must match the tensor's grad_dtype "
                    "(defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute with a specific "
                    "dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a "
                    "tensor and its gradient may break downstream systems that assume they match.")
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value._data.shape)}' to a tensor of size "
                    f"'{list(self._data.shape)}'. Please ensure that the gradient and the tensor are the same size")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def data(self) -> "Tensor":
        return _alias(self)

    @data.setter
    def data(self, value: "Tensor"):
        self._data = value._data

    @property
    def _version_value(self) -> int:
        return self._version[0]

    # ------------------------------------------------------------------ conversion to Python / NumPy
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self._data
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return _python_scalar(self._data.reshape(()))

    def tolist(self):
        arr = self._data
        if arr.dtype == D.bfloat16.np or arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        return arr.tolist()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.reshape(()))

    def __complex__(self):
        return complex(self.item())

    def __hash__(self):
        return id(self)

    def __reduce_ex__(self, proto):
        return (_rebuild, (self._data.copy(), self.requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.  If you were attempting to deepcopy a module, this may be "
                               "because of a torch.nn.utils.weight_norm usage, see https://github.com/pytorch/pytorch/pull/103001")
        new = type(self).__new__(type(self))
        _init(new, self._data.copy())
        new.requires_grad = self.requires_grad
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        if hasattr(self, "__dict__"):
            for k, v in self.__dict__.items():
                new.__dict__[k] = v
        memo[id(self)] = new
        return new

    def __repr__(self) -> str:
        d = self.dtype
        suffixes = []
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        return format_tensor(self._data, dtype_name=repr(d),
                             is_default_dtype=d is D.get_default_dtype() or d is D.int64 or d is D.bool_,
                             suffixes=suffixes)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    # ------------------------------------------------------------------ devices
    def cpu(self) -> "Tensor":
        return self

    def cuda(self, *args, **kwargs):
        check_device("cuda")

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and not (self.is_floating_point()):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad
        return self

    def detach(self) -> "Tensor":
        return _alias(self)

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retained = retain_ref(self)
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad and self.grad_fn is not None

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new gradient."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            hooks = self.grad_fn.tensor_hooks
            if hooks is None:
                hooks = self.grad_fn.tensor_hooks = []
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` right after this leaf's gradient is accumulated into ``.grad``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        from ._autograd.graph import register_post_accumulate_grad_hook

        return _RemovableHandle(register_post_accumulate_grad_hook(self, hook), hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        _backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)


class _RemovableHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def zero_grads(tensors, set_to_none: bool = True) -> None:
    """Clear the ``.grad`` of each tensor: drop it, or zero it in place (detached from any graph)."""
    for p in tensors:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            if p.grad.grad_fn is not None:
                p.grad = p.grad.detach()
            p.grad._data[...] = 0
            p.grad._version[0] += 1


def _init(t: Tensor, arr: np.ndarray) -> None:
    t._data = arr
    t.requires_grad = False
    t._grad = None
    t.grad_fn = None
    t._version = [0]
    t._hooks = None
    t._retains_grad = False


def _alias(t: Tensor) -> Tensor:
    """A new leaf sharing ``t``'s data and version counter (``detach``)."""
    out = Tensor._make(t._data)
    out._version = t._version
    return out


def _rebuild(arr, requires_grad):
    t = Tensor._make(arr)
    t.requires_grad = requires_grad
    return t


def _python_scalar(arr0d: np.ndarray):
    if arr0d.dtype == D.bfloat16.np or arr0d.dtype == np.float16:
        return float(arr0d.astype(np.float32))
    return arr0d.item()


def _wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim


def _nested_dtype(data):
    """The dtype torch infers from nested Python data: bool < int64 < default float."""
    kind = 0
    seen = False
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, Tensor):
            return None
        elif isinstance(x, (bool, np.bool_)):
            seen = True
            continue
        elif isinstance(x, (int, np.integer)):
            kind = max(kind, 1)
        elif isinstance(x, (float, np.floating)):
            kind = 2
        elif isinstance(x, complex):
            raise TypeError("complex numbers are not supported by tensorstein")
        else:
            raise TypeError(f"new(): invalid data type '{type(x).__name__}'")
    if not seen and kind == 0:  # no scalars at all (``tensor([])``): the default float dtype
        kind = 2
    return (D.bool_, D.int64, D.get_default_dtype())[kind]


def _to_array(data, dtype: D.dtype | None, copy: bool = True) -> np.ndarray:
    """Convert Python data / NumPy arrays / Tensors to an array of ``dtype`` (inferred when None)."""
    if isinstance(data, Tensor):
        arr = data._data
        if dtype is not None and arr.dtype != dtype.np:
            return arr.astype(dtype.np)
        return arr.copy() if copy else arr
    if isinstance(data, np.ndarray):
        if dtype is None:
            D.from_numpy_dtype(data.dtype)
            return data.copy() if copy else data
        return data.astype(dtype.np, copy=copy)
    if isinstance(data, (np.generic,)):
        if dtype is None:
            dtype = D.from_numpy_dtype(data.dtype)
        return np.array(data, dtype=dtype.np)
    if dtype is None:
        dtype = _nested_dtype(data)
        if dtype is None:  # a list of tensors
            return np.array([_to_array(x, None, False) for x in data])
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        data = [_to_array(x, dtype, False) for x in data]
    try:
        if dtype.is_floating_point and dtype.itemsize < 4:
            return np.array(data, dtype=np.float32).astype(dtype.np)
        return np.array(data, dtype=dtype.np)
    except ValueError as e:
        if "inhomogeneous" in str(e) or "sequence" in str(e):
            raise ValueError(f"expected sequence of equal-length lists: {e}") from None
        raise
    except OverflowError:
        raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow") from None
