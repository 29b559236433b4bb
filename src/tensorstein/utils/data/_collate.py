"""``default_collate`` and ``default_convert``: samples to batches, with torch's type rules.

>>> import tensorstein as torch
>>> default_collate([(1, 2.0), (3, 4.0)])
[tensor([1, 3]), tensor([2., 4.], dtype=tensorstein.float64)]
"""
from __future__ import annotations

import collections.abc
import copy
import re

import numpy as np

_NP_STR_OBJ = re.compile(r"[SaUO]")
default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, numbers, "
                                  "dicts or lists; found {}")


def _tensor_type():
    from ..._tensor import Tensor
    return Tensor


def _as_tensor(x):
    from ..._ops.creation import as_tensor
    return as_tensor(x)


def _collate_tensor(batch, *, collate_fn_map=None):
    from ..._ops.shape import stack
    return stack(list(batch), 0)


def _collate_ndarray(batch, *, collate_fn_map=None):
    if _NP_STR_OBJ.search(batch[0].dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(batch[0].dtype))
    return collate([_as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def _collate_np_scalar(batch, *, collate_fn_map=None):
    return _as_tensor(np.asarray(batch))


def _collate_float(batch, *, collate_fn_map=None):
    from ... import _dtype as D
    from ..._ops.creation import tensor
    return tensor(list(batch), dtype=D.float64)


def _collate_int(batch, *, collate_fn_map=None):
    from ..._ops.creation import tensor
    return tensor(list(batch))


def _collate_str(batch, *, collate_fn_map=None):
    return batch


class _TensorKey:
    """Stands for tensorstein.Tensor in ``default_collate_fn_map`` without importing it at module load."""


default_collate_fn_map: dict = {
    _TensorKey: _collate_tensor, np.ndarray: _collate_ndarray, (np.bool_, np.number, np.object_): _collate_np_scalar,
    float: _collate_float, int: _collate_int, str: _collate_str, bytes: _collate_str,
}


def _lookup(elem, collate_fn_map):
    if type(elem) in collate_fn_map:
        return collate_fn_map[type(elem)]
    for key, fn in collate_fn_map.items():
        key = _tensor_type() if key is _TensorKey else key
        if isinstance(elem, key):
            return fn
    return None


def collate(batch, *, collate_fn_map=None):
    """Collate ``batch`` by the type of its first element, recursing into mappings and sequences."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        fn = _lookup(elem, collate_fn_map)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        parts = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(parts)
                return clone
            return elem_type(parts)
        except TypeError:
            return parts
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        cols = [collate(s, collate_fn_map=collate_fn_map) for s in transposed]
        if isinstance(elem, tuple):
            return cols  # a list, as torch (backwards compatibility)
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, c in enumerate(cols):
                    clone[i] = c
                return clone
            return elem_type(cols)
        except TypeError:
            return cols
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def default_collate(batch):
    """Stack tensors, arrays and numbers of a list of samples into batched tensors, keeping the structure.

    >>> default_collate([{"x": 1}, {"x": 2}])
    {'x': tensor([1, 2])}
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """NumPy arrays/scalars to tensors inside any structure; everything else unchanged (no batching)."""
    elem_type = type(data)
    if isinstance(data, _tensor_type()):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_", "bytes_"):
        if elem_type.__name__ == "ndarray" and _NP_STR_OBJ.search(data.dtype.str) is not None:
            return data
        return _as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        parts = {key: default_convert(data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(parts)
                return clone
            return elem_type(parts)
        except TypeError:
            return parts
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        parts = [default_convert(d) for d in data]
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(parts):
                    clone[i] = d
                return clone
            return elem_type(parts)
        except TypeError:
            return parts
    return data
