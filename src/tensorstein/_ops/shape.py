"""Shape ops: views (sharing memory and version counter with their base), joins and splits.

>>> reshape(arange(6), (2, 3)).shape
tensorstein.Size([2, 3])
"""
from __future__ import annotations

import math

import numpy as np

from .. import _dtype as D
from .._autograd.graph import attach, node_type, needs_grad
from .._tensor import Tensor, _wrap_dim
from ._common import write_out
from ._registry import register
from .indexing import getitem, select


def _view_of(input, arr):
    """Wrap ``arr`` as a view of ``input``: shares the version counter when it shares memory."""
    out = Tensor._make(arr)
    if arr.base is not None:
        out._version = input._version
    return out


def _as_shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}") from None


def infer_shape(shape: tuple, numel: int) -> tuple:
    """Resolve one -1 in ``shape``; torch's errors for an impossible shape."""
    known, infer = 1, None
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        else:
            known *= s
    if infer is not None:
        if known == 0 and numel == 0:
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} because the unspecified "
                               "dimension size -1 can be any value and is ambiguous")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:infer] + (numel // known,) + shape[infer + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


ViewBackward0 = node_type("ViewBackward0")
ReshapeAliasBackward0 = node_type("ReshapeAliasBackward0")
UnsafeViewBackward0 = node_type("UnsafeViewBackward0")


def reshape(input, *shape):
    """Same data in a new shape: a view when the strides allow it, else a copy."""
    x = input._data
    shp = infer_shape(_as_shape(shape), x.size)
    res = _view_of(input, x.reshape(shp))
    if needs_grad(input):
        in_shape = x.shape
        cls = ViewBackward0 if res._data.base is not None else UnsafeViewBackward0
        attach(res, cls, lambda g: (g.reshape(in_shape),), (input,))
    return res


def view(input, *shape):
    """A view with a new shape; raises where the strides make a view impossible (use reshape)."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
        return _view_dtype(input, shape[0]) if shape[0] is not None else input
    x = input._data
    shp = infer_shape(_as_shape(shape), x.size)
    try:
        arr = np.reshape(x, shp, copy=False)
    except ValueError:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                           "dimension spans across two contiguous subspaces). Use .reshape(...) instead.") from None
    res = _view_of(input, arr)
    if needs_grad(input):
        in_shape = x.shape
        attach(res, ViewBackward0, lambda g: (g.reshape(in_shape),), (input,))
    return res


def _view_dtype(input, dtype):
    """``view(dtype)``: the same bytes read as ``dtype`` (torch's rules when the element sizes differ)."""
    if not isinstance(dtype, D.dtype):
        raise TypeError(f"view(): argument 'dtype' must be torch.dtype, not {type(dtype).__name__}")
    x = input._data
    old, new = input.dtype, dtype
    what = f"to view {old.scalar_name} as {new.scalar_name} (different element sizes)"
    if old.itemsize != new.itemsize:
        if x.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 {what}")
        strides = [st // old.itemsize for st in x.strides]
        if old.itemsize > new.itemsize:
            if strides[-1] != 1 and x.shape[-1] != 1:
                raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {strides[-1]}")
        else:
            ratio = new.itemsize // old.itemsize
            if x.shape[-1] % ratio:
                raise RuntimeError(f"self.size(-1) must be divisible by {ratio} {what}, but got {x.shape[-1]}")
            off = input.storage_offset()
            if off % ratio:
                raise RuntimeError(f"self.storage_offset() must be divisible by {ratio} {what}, but got {off}")
            if strides[-1] != 1 and x.shape[-1] != 1:
                raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {strides[-1]}")
            for i, st in enumerate(strides[:-1]):
                if st % ratio:
                    raise RuntimeError(f"self.stride({i}) must be divisible by {ratio} {what}, but got {st}")
        if x.size == 0 or not x.flags.c_contiguous and x.shape[-1] == 1:
            arr = np.ascontiguousarray(x).view(new.np)  # NumPy wants a contiguous last axis
        else:
            arr = x.view(new.np)
    else:
        arr = x.view(new.np)
    return _view_of(input, arr)


def view_as(input, other):
    return view(input, other._data.shape)


def reshape_as(input, other):
    return reshape(input, other._data.shape)


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    x = input._data
    s, e = _wrap_dim(start_dim, x.ndim), _wrap_dim(end_dim, x.ndim)
    if x.ndim == 0:
        return reshape(input, (1,))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    return reshape(input, x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def unflatten(input, dim: int, sizes):
    x = input._data
    if x.ndim == 0:
        _wrap_dim(dim, 0)
        raise RuntimeError("unflatten got an unexpected error:\nunflatten needs a tensor with at least one dim")
    d = _wrap_dim(dim, x.ndim)
    sizes = tuple(int(v) for v in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    known = int(np.prod([v for v in sizes if v != -1]))
    if (-1 not in sizes and known != x.shape[d]) or (-1 in sizes and known and x.shape[d] % known):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {d} "
                           f"({x.shape[d]}) in the input tensor")
    sizes = infer_shape(sizes, x.shape[d])
    return reshape(input, x.shape[:d] + tuple(sizes) + x.shape[d + 1:])


def squeeze(input, dim=None):
    x = input._data
    if dim is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    else:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        axes = tuple(d for d in (_wrap_dim(d, x.ndim) for d in dims) if x.ndim and x.shape[d] == 1)
    return reshape(input, tuple(s for i, s in enumerate(x.shape) if i not in axes)) if axes else _alias_op(input)


def unsqueeze(input, dim: int):
    x = input._data
    d = _wrap_dim(dim, x.ndim + 1)
    res = _view_of(input, np.expand_dims(x, d))
    if needs_grad(input):
        in_shape = x.shape
        attach(res, node_type("UnsqueezeBackward0"), lambda g: (g.reshape(in_shape),), (input,))
    return res


def _alias_op(input):
    res = _view_of(input, input._data.view())
    return attach(res, node_type("AliasBackward0"), lambda g: (g,), (input,))


TransposeBackward0 = node_type("TransposeBackward0")
PermuteBackward0 = node_type("PermuteBackward0")


def transpose(input, dim0: int, dim1: int):
    x = input._data
    n = x.ndim
    if n == 0:
        _wrap_dim(dim0, 0), _wrap_dim(dim1, 0)
        return _alias_op(input)
    d0, d1 = _wrap_dim(dim0, n), _wrap_dim(dim1, n)
    res = _view_of(input, np.swapaxes(x, d0, d1))
    return attach(res, TransposeBackward0, lambda g: (g.transpose(d0, d1),), (input,))


swapaxes = swapdims = transpose


def permute(input, *dims):
    x = input._data
    dims = _as_shape(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the length "
                           f"of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not equal to "
                           f"len(dims) = {len(dims)}")
    axes = tuple(_wrap_dim(d, x.ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    res = _view_of(input, np.transpose(x, axes))
    inverse = tuple(np.argsort(axes))
    return attach(res, PermuteBackward0, lambda g: (g.permute(inverse),), (input,))


def movedim(input, source, destination):
    n = input._data.ndim
    if n == 0:  # only dim 0 / -1 exist; torch returns the tensor itself
        for v in (*((source,) if isinstance(source, int) else source),
                  *((destination,) if isinstance(destination, int) else destination)):
            _wrap_dim(v, 0)
        return permute(input, ())
    src = [_wrap_dim(s, n) for s in ((source,) if isinstance(source, int) else source)]
    dst = [_wrap_dim(d, n) for d in ((destination,) if isinstance(destination, int) else destination)]
    perm = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return permute(input, perm)


moveaxis = movedim


def t(input):
    x = input._data
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    res = _view_of(input, x.T if x.ndim == 2 else x.view())
    return attach(res, node_type("TBackward0"), lambda g: (g.t(),), (input,))


def adjoint(input):
    """The conjugate transpose of the last two dims (identity on a 0-d tensor, as torch)."""
    if input._data.ndim < 2:
        if input._data.ndim == 0:
            return permute(input, ())
        raise RuntimeError("tensor.adjoint() is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return transpose(input, -2, -1)


def expand(input, *sizes):
    """Broadcast to a larger shape without copying (-1 keeps a size)."""
    x = input._data
    sizes = _as_shape(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(x.shape)}}}, size={list(sizes)}): the number of sizes "
                           f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the "
                           f"tensor ({x.ndim})")
    lead = len(sizes) - x.ndim
    target = []
    for i in range(len(sizes) - 1, -1, -1):  # torch checks from the last dim
        s = sizes[i]
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                                   f"non-existing dimension {i}")
            target.append(s)
            continue
        cur = x.shape[i - lead]
        if s == -1:
            s = cur
        if cur != s and cur != 1:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(x.shape)}")
        target.append(s)
    target = tuple(reversed(target))
    if target == x.shape:
        return _alias_op(input) if input.requires_grad else _view_of(input, x.view())
    res = _view_of(input, np.broadcast_to(x, target))
    return attach(res, node_type("ExpandBackward0"), lambda g: (g,), (input,))


def expand_as(input, other):
    return expand(input, other._data.shape)


def broadcast_to(input, shape):
    return expand(input, shape)


def repeat(input, *sizes):
    x = input._data
    reps = _as_shape(sizes)
    if len(reps) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           "tensor")
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    target = [r * s for r, s in zip(reps, shape)]
    if any(v < 0 for v in target):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(target)}: {target}")
    res = Tensor._make(np.tile(x.reshape(shape), reps))
    if needs_grad(input):
        def backward(g):
            split = []
            for r, s in zip(reps, shape):
                split += [r, s]
            summed = g.reshape(split).sum(dim=tuple(range(0, 2 * len(reps), 2)))
            return (summed.reshape(x.shape),)

        attach(res, node_type("RepeatBackward0"), backward, (input,))
    return res


def contiguous(input, memory_format=None):
    x = input._data
    if x.flags.c_contiguous:
        return input
    res = Tensor._make(np.ascontiguousarray(x))
    return attach(res, node_type("CloneBackward0"), lambda g: (g,), (input,))


def clone(input, *, memory_format=None):
    res = Tensor._make(input._data.copy())
    return attach(res, node_type("CloneBackward0"), lambda g: (g,), (input,))


def flip(input, dims):
    """Reverse the order of elements along ``dims`` (a tuple; the method also takes varargs)."""
    x = input._data
    if not isinstance(dims, (tuple, list)):
        raise TypeError(f"flip(): argument 'dims' (position 2) must be tuple of ints, not {type(dims).__name__}")
    axes = tuple(_wrap_dim(d, x.ndim) for d in dims)
    if len(set(axes)) != len(axes):
        dup = next(a for i, a in enumerate(axes) if a in axes[:i])
        raise RuntimeError(f"dim {dup} appears multiple times in the list of dims")
    res = Tensor._make(np.flip(x, axes).copy() if x.ndim else x.copy())
    return attach(res, node_type("FlipBackward0"), lambda g: (g.flip(axes),), (input,))


def _flip_method(self, *dims):
    return flip(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)


def roll(input, shifts, dims=None):
    """Shift elements along ``dims`` circularly (flattened when ``dims`` is None)."""
    x = input._data
    if dims is not None:
        sh = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
        dl = dims if isinstance(dims, (tuple, list)) else (dims,)
        if len(sh) != len(dl):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:{len(dl)}")
        if x.ndim == 0 and dl:
            raise IndexError(f"Dimension specified as {dl[0]} but tensor has no dimensions")
        for d in dl:
            _wrap_dim(d, x.ndim)
    res = Tensor._make(np.roll(x, shifts, dims))
    neg = tuple(-s for s in shifts) if isinstance(shifts, (tuple, list)) else -shifts
    return attach(res, node_type("RollBackward0"), lambda g: (g.roll(neg, dims),), (input,))


def tril(input, diagonal: int = 0):
    return _tri(input, diagonal, np.tril, "tril")


def triu(input, diagonal: int = 0):
    return _tri(input, diagonal, np.triu, "triu")


def _tri(input, k, np_fn, name):
    x = input._data
    if x.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    res = Tensor._make(np_fn(x, k))
    return attach(res, node_type(f"{name.capitalize()}Backward0"), lambda g: (_tri(g, k, np_fn, name),), (input,))


# ---------------------------------------------------------------- joins and splits
def _check_tensors(tensors, name):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{name}(): expected a non-empty list of Tensors")
    return tensors


def cat(tensors, dim: int = 0, *, out=None):
    """Join tensors along an existing dim (1-D empty tensors are skipped, as in torch)."""
    tensors = _check_tensors(tensors, "cat")
    live = [t for t in tensors if not (t._data.ndim == 1 and t._data.size == 0)] or tensors[:1]
    ref = live[0]._data  # skipped 1-D empty tensors still take part in the type promotion (torch)
    if ref.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = _wrap_dim(dim, ref.ndim)
    rt = D.result_type(*tensors) if len(tensors) > 1 else live[0].dtype
    for i, t in enumerate(live):
        if t._data.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {t._data.ndim}")
        for j in range(ref.ndim):
            if j != d and t._data.shape[j] != ref.shape[j]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{ref.shape[j]} but got size {t._data.shape[j]} for tensor number {i} in the list.")
    res = Tensor._make(np.concatenate([t._data.astype(rt.np, copy=False) for t in live], axis=d))
    if out is not None:
        return write_out(out, res)
    if needs_grad(*live):
        sizes = [t._data.shape[d] for t in live]

        def backward(g):
            return tuple(g.split(sizes, d))

        attach(res, node_type("CatBackward0"), backward, tuple(live))
    return res


concat = concatenate = cat


def stack(tensors, dim: int = 0, *, out=None):
    tensors = _check_tensors(tensors, "stack")
    shape = tensors[0]._data.shape
    _wrap_dim(dim, len(shape) + 1)
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 and "
                               f"{list(t._data.shape)} at entry {i}")
    d = _wrap_dim(dim, len(shape) + 1)
    rt = D.result_type(*tensors) if len(tensors) > 1 else tensors[0].dtype
    res = Tensor._make(np.stack([t._data.astype(rt.np, copy=False) for t in tensors], axis=d))
    if out is not None:
        return write_out(out, res)
    if needs_grad(*tensors):
        n = len(tensors)
        attach(res, node_type("StackBackward0"), lambda g: tuple(g.select(d, i) for i in range(n)), tuple(tensors))
    return res


def hstack(tensors):
    tensors = [t if t._data.ndim else t.reshape(1) for t in _check_tensors(tensors, "hstack")]  # atleast_1d
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    return cat([t if t._data.ndim > 1 else t.reshape(1, -1) for t in _check_tensors(tensors, "vstack")], 0)


def narrow(input, dim: int, start: int, length: int):
    x = input._data
    if x.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, x.ndim)
    start = int(start)
    if not -x.shape[d] <= start <= x.shape[d]:
        raise IndexError(f"start out of range (expected to be in range of [{-x.shape[d]}, {x.shape[d]}], but got "
                         f"{start})")
    if start < 0:
        start += x.shape[d]
    if not 0 <= start <= x.shape[d] or length < 0 or start + length > x.shape[d]:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({x.shape[d]}).")
    index = (slice(None),) * d + (slice(start, start + length),)
    return getitem(input, index)


def split(input, split_size_or_sections, dim: int = 0):
    """Split into chunks of a size (the last may be smaller) or into the listed sizes."""
    x = input._data
    if x.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _wrap_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        sizes = [min(step, n - i) for i in range(0, n, step)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {d}), but got split_sizes={sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(input, d, start, s))
        start += s
    return tuple(out)


def chunk(input, chunks: int, dim: int = 0):
    if input._data.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: %d" % chunks)
    n = input._data.shape[_wrap_dim(dim, input._data.ndim)]
    if n == 0:  # torch: ``chunks`` empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, -(-n // chunks), dim)


def tensor_split(input, sections, dim: int = 0):
    if input._data.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    n = input._data.shape[_wrap_dim(dim, input._data.ndim)]
    if isinstance(sections, int):
        q, r = divmod(n, sections)
        sizes = [q + 1] * r + [q] * (sections - r)
    else:
        bounds = [0] + [min(max(int(i), 0), n) for i in sections] + [n]
        sizes = [max(b - a, 0) for a, b in zip(bounds, bounds[1:])]
    return split(input, sizes, dim)


def unbind(input, dim: int = 0):
    d = _wrap_dim(dim, input._data.ndim)
    return tuple(select(input, d, i) for i in range(input._data.shape[d]))


def _T(self):
    n = self._data.ndim
    return permute(self, tuple(range(n - 1, -1, -1))) if n != 2 else t(self)


def _mT(self):
    if self._data.ndim == 0:  # torch: the identity (deprecated) on 0-d tensors
        return permute(self, ())
    if self._data.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self._data.ndim}-D "
                           "tensor.")
    return transpose(self, -2, -1)


def detach(input):
    """A new leaf sharing ``input``'s data (no gradient flows back)."""
    return input.detach()


def expand_copy(input, size):
    return expand(input, size).clone()


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input) -> bool:
    return input.is_floating_point()


def numel(input) -> int:
    return input.numel()


register(reshape, flatten, unflatten, squeeze, unsqueeze, permute, t, adjoint, broadcast_to, clone, roll, narrow,
         contiguous)
register(flip, method=_flip_method)
register(transpose, aliases=("swapaxes", "swapdims"))
register(movedim, aliases=("moveaxis",))
register(tril, inplace=True)
register(triu, inplace=True)
register(split, chunk, tensor_split, unbind, returns="tuple[Tensor, ...]")
register(view, view_as, reshape_as, expand, expand_as, repeat, function=False)
register(cat, aliases=("concat", "concatenate"), method=False)
register(stack, hstack, vstack, method=False)
register(_T, name="T", function=False, method=("T", "H"), prop=True)
register(_mT, name="mT", function=False, method=("mT", "mH"), prop=True)
register(detach, expand_copy, is_tensor, is_floating_point, numel, method=False)
