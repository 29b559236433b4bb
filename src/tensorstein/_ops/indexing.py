"""Indexing: basic/advanced/boolean getitem and setitem, gather/scatter, index_select, where, masked_fill.

>>> where(tensor([True, False]), 1.0, 0.0)
tensor([1., 0.])
"""
from __future__ import annotations

import re

import numpy as np

from .. import _dtype as D
from .._autograd.graph import attach, node_type, needs_grad
from .._kernels.lazy import kernels
from .._tensor import Tensor, _wrap_dim
from ._common import cast_scalar, check_fill, inplace
from ._registry import register
from .elementwise import where
from .errors import broadcast_error, broadcast_shapes


class _Staged(tuple):
    """torch's reading of an index mixing integers and advanced indices, as two NumPy indices: the integers
    select first (``first``, a basic index: a view), then the advanced indices apply to what is left
    (``second``). NumPy would count the integers as advanced indices, which moves the result's dims:
    ``x[0, :, [1, 2]]`` is (3, 2) in torch, (2, 3) in NumPy for ``x`` of shape (2, 3, 4)."""

    __slots__ = ()

    @property
    def first(self):
        return self[0]

    @property
    def second(self):
        return self[1]


def _convert_index(index):
    """A torch index as a NumPy one: tensors become arrays; anything unsupported is a clear error."""
    if isinstance(index, tuple):
        if type(index) is _Staged:
            return index
        idx = tuple(_convert_one(i) for i in index)
        if any(type(i) is np.ndarray for i in idx) and any(isinstance(i, (int, np.integer)) for i in idx):
            return _stage(idx)
        return idx
    return _convert_one(index)


def _stage(idx):
    """Split ``idx`` (with integers and arrays) into torch's two steps; see ``_Staged``."""
    first, second = [], []
    for i in idx:
        if isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)):
            first.append(i)
        elif type(i) is np.ndarray:
            first.extend([slice(None)] * (i.ndim if i.dtype == np.bool_ else 1))
            second.append(i)
        elif i is None:
            first.append(None)
            second.append(slice(None))
        elif i is Ellipsis:
            first.append(i)
            second.append(i)
        else:
            first.append(i)
            second.append(slice(None))
    return _Staged((tuple(first), tuple(second)))


def _convert_one(i):
    if isinstance(i, Tensor):
        arr = i._data
        if arr.dtype.kind == "f" or arr.dtype == D.bfloat16.np:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if arr.ndim == 0 and arr.dtype.kind in "iu" and arr.dtype != np.uint8:
            return int(arr)  # a 0-d integer tensor selects, as an int does
        return arr.astype(bool) if arr.dtype == np.uint8 else arr
    if isinstance(i, list):
        if any(isinstance(x, Tensor) for x in i):
            return np.array([_convert_one(x) for x in i])
        return np.asarray(i) if i else np.zeros(0, dtype=np.int64)
    if isinstance(i, range):
        return np.arange(i.start, i.stop, i.step, dtype=np.int64)
    if isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis), np.ndarray, bool)):
        return i
    if isinstance(i, float):
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                         "indices (got float)")
    raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                     f"indices (got {type(i).__name__})")


def _is_basic(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) and not isinstance(i, bool)
               for i in items)


def _index_error(e: IndexError, shape) -> IndexError:
    m = re.match(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", str(e))
    if m:
        return IndexError(f"index {m.group(1)} is out of bounds for dimension {m.group(2)} with size {m.group(3)}")
    if "too many indices" in str(e):
        return IndexError(f"too many indices for tensor of dimension {len(shape)}")
    return IndexError(str(e))


def _get(arr, idx):
    try:
        return arr[idx]
    except IndexError as e:
        raise _index_error(e, arr.shape) from None
    except ValueError as e:
        raise IndexError(str(e)) from None


def _step_check(idx):
    for i in idx if isinstance(idx, tuple) else (idx,):
        if isinstance(i, slice) and i.step is not None and i.step <= 0:
            raise ValueError("step must be greater than zero")


def getitem(input, index):
    """``input[index]``: basic indexing gives a view, advanced indexing a copy."""
    idx = _convert_index(index)
    if type(idx) is _Staged:
        return getitem(getitem(input, idx.first), idx.second)
    _step_check(idx)
    x = input._data
    arr = _get(x, idx)
    basic = _is_basic(idx)
    res = Tensor._make(arr)
    if basic and isinstance(arr, np.ndarray) and arr.base is not None:
        res._version = input._version
    if needs_grad(input):
        shape = x.shape
        attach(res, node_type(_basic_node_name(idx) if basic else "IndexBackward0"),
               lambda g: (index_grad(g, shape, idx, accumulate=not basic),), (input,))
    return res


def _basic_node_name(idx) -> str:
    """torch's grad_fn name for basic indexing: the last select/slice/unsqueeze it applies."""
    if not isinstance(idx, tuple):
        return "SelectBackward0" if isinstance(idx, (int, np.integer)) else \
            "UnsqueezeBackward0" if idx is None else "AliasBackward0" if idx is Ellipsis else "SliceBackward0"
    name = "AliasBackward0"
    for i in idx:
        if i is None:
            name = "UnsqueezeBackward0"
        elif isinstance(i, slice):
            if i != slice(None):
                name = "SliceBackward0"
        elif i is not Ellipsis:
            name = "SelectBackward0"
    return name


def index_grad(g, shape, idx, accumulate):
    """Zeros of ``shape`` with ``g`` placed (added, for advanced indices) at ``idx``; differentiable."""
    out = np.zeros(shape, dtype=g._data.dtype)
    if accumulate:
        np.add.at(out, idx, g._data)
    else:
        out[idx] = g._data
    res = Tensor._make(out)
    return attach(res, node_type("IndexPutBackward0"), lambda gg: (getitem(gg, idx),), (g,))


def select(input, dim: int, index: int):
    x = input._data
    d = _wrap_dim(dim, x.ndim)
    n = x.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(x.shape)} at dimension {d}")
    return getitem(input, (slice(None),) * d + (index,))


def setitem(self, index, value):
    """``self[index] = value`` in place (autograd-aware through ``index_put``)."""
    idx = _convert_index(index)
    _step_check(idx.first if type(idx) is _Staged else idx)
    inplace(self, _index_put, idx, value)


def _np_set(arr, idx, vals):
    """``arr[idx] = vals`` for a NumPy or a staged index (the first step of which is a view)."""
    if type(idx) is _Staged:
        arr[idx.first][idx.second] = vals
    else:
        arr[idx] = vals


def _np_get(arr, idx):
    return arr[idx.first][idx.second] if type(idx) is _Staged else arr[idx]


def _index_put(input, idx, value):
    x = input._data
    out = x.copy()
    vals = value._data if isinstance(value, Tensor) else value
    try:
        with np.errstate(over="ignore"):
            _np_set(out, idx, vals)
    except IndexError as e:
        raise _index_error(e, x.shape) from None
    except OverflowError:
        if x.dtype == np.uint8 and isinstance(vals, int) and -255 <= vals < 0:  # torch wraps these
            return _index_put(input, idx, vals & 0xFF)
        if x.dtype == np.int64:
            raise ValueError("Overflow when unpacking long long") from None
        raise RuntimeError(f"value cannot be converted to type {x.dtype.name}_t without overflow") from None
    except ValueError:
        target = np.shape(_np_get(x, idx))
        if _is_basic(idx) and isinstance(value, Tensor):  # torch copies into the view: expand's error
            value.expand(target)
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(np.shape(vals))} cannot be broadcast to "
                           f"indexing result of shape {list(target)}") from None
    res = Tensor._make(out)
    if needs_grad(input, value if isinstance(value, Tensor) else None):
        def backward(g):
            gi = g.clone()
            _np_set(gi._data, idx, 0)
            gv = getitem(g, idx) if isinstance(value, Tensor) and value.requires_grad else None
            return gi, gv

        attach(res, node_type("IndexPutBackward0"), backward,
               (input, value if isinstance(value, Tensor) else None))
    return res


def index_put(input, indices, values, accumulate=False):
    idx = tuple(_convert_one(i) for i in indices)
    if not accumulate:
        return _index_put(input, idx, values)
    out = input._data.copy()
    np.add.at(out, idx, values._data)
    res = Tensor._make(out)
    return attach(res, node_type("IndexPutBackward0"), lambda g: (g, getitem(g, idx)), (input, values))


# ---------------------------------------------------------------- gather / scatter / index_select
def _check_index(index, name):
    """gather/scatter take int64 or int32 indices, as torch."""
    if not isinstance(index, Tensor):
        raise RuntimeError(f"{name}(): Expected dtype int64 for index, got {type(index).__name__}")
    if index.dtype is not D.int64 and index.dtype is not D.int32:
        raise RuntimeError(f"{'scatter' if name == 'scatter_add' else name}(): Expected dtype int32/int64 for index")


def _along_axis_index(index_arr, d):
    """Full advanced-index tuple addressing ``index_arr`` positions along axis ``d``."""
    grids = list(np.indices(index_arr.shape, sparse=True))
    grids[d] = index_arr
    return tuple(grids)


def _check_bounds(ix, n, d):
    """torch's error for the first index outside ``[0, n)`` (gather/scatter do not wrap negatives)."""
    if ix.size:
        bad = (ix < 0) | (ix >= n)
        if bad.any():
            raise RuntimeError(f"index {int(ix.reshape(-1)[np.argmax(bad.reshape(-1))])} is out of bounds for "
                               f"dimension {d} with size {n}")


def gather(input, dim: int, index, *, sparse_grad=False):
    """``out[i][j] = input[i][index[i][j]]`` along ``dim``."""
    d = _wrap_dim(dim, input._data.ndim)
    if isinstance(index, Tensor) and index._data.size == 0 and index.dtype._category < 2:
        return Tensor._make(np.zeros(index._data.shape, input._data.dtype))  # torch skips every check
    _check_index(index, "gather")
    x, ix = input._data, index._data
    if x.ndim == 0 or ix.ndim == 0:  # a 0-d operand acts as one element along ``dim``
        if max(x.ndim, ix.ndim) > 1:
            raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
        _check_bounds(ix, x.size if x.ndim == 0 else x.shape[0], d)
        return gather(input.reshape(-1), 0, index.reshape(-1)).reshape(ix.shape)
    if ix.ndim != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for k in range(ix.ndim):
        if k != d and ix.shape[k] > x.shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index {list(ix.shape)} to be no larger "
                               f"than self {list(x.shape)} apart from dimension {d}")
    _check_bounds(ix, x.shape[d], d)
    full = _along_axis_index(ix, d)
    res = Tensor._make(x[full])
    if needs_grad(input):
        shape = x.shape
        attach(res, node_type("GatherBackward0"), lambda g: (index_grad(g, shape, full, accumulate=True),),
               (input,))
    return res


def take_along_dim(input, indices, dim=None):
    """``gather`` with broadcasting over the other dims; with ``dim`` indices wrap modulo its size (torch)."""
    if isinstance(indices, Tensor) and indices.dtype is not D.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{indices.dtype.scalar_name}")
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    x, ix = input._data, indices._data
    if x.ndim != ix.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {x.ndim} dimensions for input, and {ix.ndim} dimensions for indices")
    d = _wrap_dim(dim, x.ndim)
    sa = list(x.shape)
    sa[d] = ix.shape[d]
    shape = list(broadcast_shapes(tuple(sa), ix.shape))
    if list(ix.shape) != shape:
        indices = indices.expand(*shape)
    shape[d] = x.shape[d]
    if list(x.shape) != shape:
        input = input.expand(*shape)
    if x.shape[d] and indices._data.size and (indices._data.min() < 0 or indices._data.max() >= x.shape[d]):
        indices = Tensor._make(np.remainder(indices._data, x.shape[d]))
    return gather(input, d, indices)


def _scatter_checks(x, d, ix, src) -> bool:
    """torch's scatter shape and bounds checks; True when the index is empty (nothing to do)."""
    if isinstance(src, Tensor) and src._data.dtype != x.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if ix.size == 0:
        return True
    xs = x.shape if x.ndim else (1,)
    ixs = ix.shape if ix.ndim else (1,)
    if len(ixs) != len(xs):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    ss = None
    if isinstance(src, Tensor):
        ss = src._data.shape if src._data.ndim else (1,)
        if len(ss) != len(ixs):
            raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    if any(i > s for k, (i, s) in enumerate(zip(ixs, xs)) if k != d) or \
            (ss is not None and any(i > s for i, s in zip(ixs, ss))):
        msg = f"Expected index {list(ix.shape)} to be no larger than self {list(x.shape)} apart from dimension {d}"
        raise RuntimeError(msg + (f" and to be no larger size than src {list(src._data.shape)}" if ss else ""))
    _check_bounds(ix, xs[d], d)
    if x.ndim == 0:
        raise RuntimeError("scatter on a 0-d tensor with a non-empty index is not supported")
    return False


def scatter_grad(g, index, d, shape):
    """Gradient of a max/min along ``d``: ``g`` put at the chosen indices of a zero tensor."""
    return index_grad(g, shape, _along_axis_index(index._data, d), accumulate=True)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """Out-of-place scatter: ``out[index[i][j]][j] = src[i][j]`` along ``dim``."""
    if src is None:
        src = value
    x = input._data
    d = _wrap_dim(dim, x.ndim)
    _check_index(index, "scatter")
    if _scatter_checks(x, d, index._data, src):
        return input.clone()
    full = _along_axis_index(index._data, d)
    out = x.copy()
    vals = src._data[tuple(slice(0, s) for s in index._data.shape)] if isinstance(src, Tensor) else src
    if reduce == "add":
        np.add.at(out, full, vals)
    elif reduce == "multiply":
        np.multiply.at(out, full, vals)
    else:
        out[full] = vals
    res = Tensor._make(out)
    if needs_grad(input, src if isinstance(src, Tensor) else None):
        def backward(g):
            gi = g.clone()
            gi._data[full] = 0
            gs = None
            if isinstance(src, Tensor) and src.requires_grad:
                gs = index_grad(getitem(g, full), src._data.shape,
                                tuple(slice(0, s) for s in index._data.shape), accumulate=False)
            return gi, gs

        attach(res, node_type("ScatterBackward0"), backward, (input, src if isinstance(src, Tensor) else None))
    return res


def scatter_add(input, dim, index, src):
    x = input._data
    d = _wrap_dim(dim, x.ndim)
    _check_index(index, "scatter_add")
    if _scatter_checks(x, d, index._data, src):
        return input.clone()
    full = _along_axis_index(index._data, d)
    out = x.copy()
    np.add.at(out, full, src._data[tuple(slice(0, s) for s in index._data.shape)])
    res = Tensor._make(out)
    if needs_grad(input, src):
        region = tuple(slice(0, s) for s in index._data.shape)
        attach(res, node_type("ScatterAddBackward0"),
               lambda g: (g, index_grad(getitem(g, full), src._data.shape, region, accumulate=False)),
               (input, src))
    return res


def index_select(input, dim: int, index):
    if not isinstance(index, Tensor) or index.dtype not in (D.int64, D.int32):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    x = input._data
    d = _wrap_dim(dim, x.ndim)
    flat = index._data.reshape(-1)
    n = x.shape[d] if x.ndim else 1
    if x.ndim == 0 and flat.size != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {flat.size} value(s)")
    if n == 0 and flat.size and x.ndim > 1:
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    bad = (flat < 0) | (flat >= n)
    if bad.any():  # torch's CPU kernels: dim 0 (and 0-d/1-d inputs) say one thing, other dims another
        if x.ndim <= 1 or (d == 0 and x.size):
            raise IndexError("index out of range in self")
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={int(flat[np.argmax(bad)])} axis_dim={n}")
    idx = (slice(None),) * d + (flat,)
    return getitem(input, idx) if x.ndim else getitem(input, ...)


def index_add(input, dim, index, source, *, alpha=1):
    x = input._data
    d = _wrap_dim(dim, x.ndim)
    if not isinstance(index, Tensor) or index.dtype not in (D.int64, D.int32):
        got = index.dtype.cpp_name.title() if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"index_add_(): Expected dtype int32/int64 for index but got: {got}")
    if index._data.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: {index._data.ndim} with "
                         f"type: {index.dtype.scalar_name} and size: {list(index._data.shape)}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_add_(): self ({input.dtype.scalar_name}) and source ({source.dtype.scalar_name}) "
                           f"must have the same scalar type")
    ss = source._data.shape
    n_src = ss[d] if len(ss) > d else 1
    if index._data.size != n_src:
        if not ss:  # torch's message asks a 0-d source for its size
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        raise RuntimeError(f"index_add_(): Number of indices ({index._data.size}) should be equal to "
                           f"source.size(dim): ({n_src}), for dim: {d}")
    rest_x = x.shape[:d] + x.shape[d + 1:]
    if x.ndim and ss and rest_x != ss[:d] + ss[d + 1:] or (x.ndim == 0) != (len(ss) == 0):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the specified dimension. "
                           f"Got self.shape = {list(x.shape)} source.shape = {list(ss)}")
    if x.ndim <= 1 and index._data.size and ((index._data < 0) | (index._data >= (x.size if x.ndim else 1))).any():
        raise IndexError("index out of range in self")  # torch's 1-D kernel
    _check_bounds(index._data, x.shape[d] if x.ndim else 1, d)
    if x.ndim == 0:
        return input + source * alpha
    idx = (slice(None),) * d + (index._data.reshape(-1),)
    out = x.copy()
    np.add.at(out, idx, source._data * alpha if alpha != 1 else source._data)
    res = Tensor._make(out)
    return attach(res, node_type("IndexAddBackward0"), lambda g: (g, getitem(g, idx) * alpha), (input, source))


def masked_fill(input, mask, value):
    """Replace the elements where ``mask`` is True by ``value`` (a number or a 0-d tensor)."""
    if not isinstance(mask, Tensor) or mask.dtype is not D.bool_:
        got = mask.dtype.cpp_name if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {got}")
    if mask._data.shape != input._data.shape:
        try:
            bshape = np.broadcast_shapes(mask._data.shape, input._data.shape)
        except ValueError:
            raise broadcast_error(mask._data.shape, input._data.shape) from None
        if bshape != input._data.shape:  # out of place, torch expands ``input`` too
            input = input.expand(*bshape)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s).")
        return where(mask, value.to(input.dtype), input)
    x = input._data
    check_fill(value, input.dtype)
    try:
        fill = cast_scalar(value, input.dtype)
        res_arr = kernels("binary").masked_fill(x, mask._data, fill) if x.size >= 4096 else None
        if res_arr is None:
            res_arr = np.where(mask._data, fill, x)
    except ValueError:
        raise broadcast_error(x.shape, mask._data.shape) from None
    if res_arr.shape != x.shape:
        raise RuntimeError(f"The size of tensor a ({x.shape[-1] if x.ndim else 1}) must match the size of tensor b "
                           f"({mask._data.shape[-1]}) at non-singleton dimension {max(mask._data.ndim - 1, 0)}")
    res = Tensor._make(res_arr)
    if needs_grad(input):
        attach(res, node_type("MaskedFillBackward0"), lambda g: (masked_fill(g, mask, 0.0),), (input,))
    return res


def index_fill(input, dim: int, index, value):
    """Fill the slices of ``input`` at positions ``index`` along ``dim`` with ``value`` (a number or 0-d tensor).

    >>> zeros(2, 3).index_fill(1, tensor([0, 2]), 7.0)
    tensor([[7., 0., 7.],
            [7., 0., 7.]])
    """
    if not isinstance(index, Tensor) or index.dtype is not D.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    if index._data.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value._data.ndim} dimension(s).")
    x = input._data
    d = _wrap_dim(dim, max(x.ndim, 1))
    if x.size == 0:  # nothing to fill: torch checks no index
        return input.clone()
    n = x.shape[d] if x.ndim else 1
    flat = index._data.reshape(-1)
    bad = (flat < -n) | (flat >= n)
    if bad.any():
        raise IndexError(f"index {int(flat[np.argmax(bad)])} is out of bounds for dimension {d} with size {n}")
    hit = np.zeros(n, dtype=bool)
    hit[flat] = True
    mask = Tensor._make(hit.reshape((n,) + (1,) * (x.ndim - d - 1)) if x.ndim else hit.reshape(()))
    if isinstance(value, Tensor):
        res = where(mask, value.to(input.dtype), input)
        return attach(res.detach(), node_type("IndexFillBackward1"),
                      lambda g: (where(mask, 0.0, g), where(mask, g, 0.0).sum().to(value.dtype)), (input, value)) \
            if needs_grad(input, value) else res
    res = Tensor._make(np.where(mask._data, cast_scalar(value, input.dtype), x))
    if needs_grad(input):
        attach(res, node_type("IndexFillBackward0"), lambda g: (where(mask, 0.0, g),), (input,))
    return res


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements, (n, ndim); a 0-d input gives (n, 0), or one index tensor as a tuple."""
    if input._data.ndim == 0:
        n = int(input._data != 0)
        if as_tuple:
            return (Tensor._make(np.zeros(n, np.int64)),)
        return Tensor._make(np.zeros((n, 0), np.int64))
    idx = np.nonzero(input._data)
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64)) for i in idx)
    return Tensor._make(np.stack(idx, axis=1).astype(np.int64) if idx else np.zeros((0, 0), np.int64))


def argwhere(input):
    return nonzero(input)


def masked_select(input, mask):
    if not isinstance(mask, Tensor) or mask.dtype is not D.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = broadcast_shapes(mask._data.shape, input._data.shape)
    x, m = np.broadcast_to(input._data, shape), np.broadcast_to(mask._data, shape)
    res = Tensor._make(x[m])
    if needs_grad(input):
        attach(res, node_type("MaskedSelectBackward0"),
               lambda g: (index_grad(g, x.shape, m, accumulate=False),), (input,))
    return res


def take(input, index):
    if not isinstance(index, Tensor) or index.dtype is not D.int64:
        got = index.dtype.scalar_name if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {got}")
    return getitem(input.reshape(-1), index)


def _masked_fill_(self, mask, value):
    # in place, torch names the tensors the other way round in a broadcast error (self is "a")
    if isinstance(mask, Tensor) and mask._data.dtype == np.bool_ and mask._data.shape != self._data.shape:
        try:
            np.broadcast_shapes(self._data.shape, mask._data.shape)
        except ValueError:
            raise broadcast_error(self._data.shape, mask._data.shape) from None
    return inplace(self, masked_fill, mask, value)


register(scatter, scatter_add, index_add, index_put, inplace=True)
register(gather, index_select, masked_select, argwhere, select, take, take_along_dim)
register(nonzero, returns="Any")
register(masked_fill, inplace=_masked_fill_)
register(index_fill, inplace=True)
register(getitem, function=False, method=False, dunders={"__getitem__": None})
register(setitem, function=False, method=False, dunders={"__setitem__": None}, returns="None")
