"""A restricted, budgeted unpickler for PyTorch checkpoints: data only, never code.

Globals resolve through an allow-list to our own functions, each of which checks the type of every
argument (``torch.device`` takes a str or int, ``torch.Size`` a sequence of ints, ...); the opcodes
that call or mutate arbitrary objects (NEWOBJ, INST, OBJ, EXT*) are refused; ``BUILD`` only sets
non-dunder attributes on an ``OrderedDict`` (a state dict's ``_metadata``) or the state of a NumPy
array/dtype this unpickler made. Hashing (dict keys, set items) is bounded, so memo-shared tuples
cannot make a 1 KB file hash 2^40 nodes. Tensors are built as soon as their storage is known, as
views of it (a 0-stride view or 30 tensors of one storage cost the storage, not a copy each), by a
:class:`Factory` that decides what a tensor, ``Size``, dtype or device becomes (NumPy objects here;
tensorstein objects in :mod:`._serialization`). There is no pass over the result afterwards.
"""

from __future__ import annotations

import collections
import pickle
from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np

from ._errors import CheckpointError, describe, fail, fmt_int

__all__ = ["STORAGE_DTYPES", "TORCH_DTYPES", "Factory", "RestrictedUnpickler", "Storage"]

STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype(np.float64), "FloatStorage": np.dtype(np.float32),
    "HalfStorage": np.dtype(np.float16), "BFloat16Storage": np.dtype(ml_dtypes.bfloat16),
    "LongStorage": np.dtype(np.int64), "IntStorage": np.dtype(np.int32), "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8), "ByteStorage": np.dtype(np.uint8), "BoolStorage": np.dtype(np.bool_),
    "ComplexDoubleStorage": np.dtype(np.complex128), "ComplexFloatStorage": np.dtype(np.complex64),
    "UntypedStorage": np.dtype(np.uint8),
}
# torch.<name> dtype globals -> NumPy dtype (aliases included)
TORCH_DTYPES: dict[str, np.dtype] = {
    "float64": np.dtype(np.float64), "double": np.dtype(np.float64), "float32": np.dtype(np.float32),
    "float": np.dtype(np.float32), "float16": np.dtype(np.float16), "half": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16), "float8_e4m3fn": np.dtype(ml_dtypes.float8_e4m3fn),
    "float8_e5m2": np.dtype(ml_dtypes.float8_e5m2), "int64": np.dtype(np.int64), "long": np.dtype(np.int64),
    "int32": np.dtype(np.int32), "int": np.dtype(np.int32), "int16": np.dtype(np.int16),
    "short": np.dtype(np.int16), "int8": np.dtype(np.int8), "uint8": np.dtype(np.uint8),
    "uint16": np.dtype(np.uint16), "uint32": np.dtype(np.uint32), "uint64": np.dtype(np.uint64),
    "bool": np.dtype(np.bool_), "complex64": np.dtype(np.complex64), "complex128": np.dtype(np.complex128),
    "cfloat": np.dtype(np.complex64), "cdouble": np.dtype(np.complex128),
}
_NUMPY_CODES = {np.dtype(c).str[1:]: np.dtype(c) for c in "?bBhHiIqQlLefdFD"}  # "f4" -> float32; "i8" -> int64
_MAX_DIM = 2**62
_MAX_BYTES = 2**63 - 1
_HASH_BUDGET = 2_000_000  # tuple nodes hashed per file (dict keys, set items)
_KEY_NODES = 10_000  # nodes in one key
_FUNC_SCALARS = (str, bytes, int, float, complex, type(None))


class Factory:
    """What the unpickler builds: NumPy arrays, tuples, NumPy dtypes and device strings."""

    def tensor(self, arr: np.ndarray, requires_grad: bool) -> Any:
        return arr

    def parameter(self, t: Any, requires_grad: bool) -> Any:
        return t

    def size(self, dims: tuple) -> Any:
        return tuple(dims)

    def dtype(self, name: str) -> Any:
        return TORCH_DTYPES[name]

    def np_dtype(self, d: Any) -> np.dtype | None:
        return d if isinstance(d, np.dtype) else None

    def device(self, kind: str, index: int | None) -> Any:
        return kind if index is None else f"{kind}:{index}"


class Storage:
    """A flat storage: ``data`` is a writable 1-D array (None while only its size is known)."""

    __slots__ = ("as_dtype", "big_endian", "data", "dtype", "key", "numel")

    def __init__(self, key: str, dtype: np.dtype, numel: int, data: np.ndarray | None, big_endian: bool = False):
        self.key, self.dtype, self.numel, self.data, self.big_endian = key, dtype, numel, data, big_endian
        self.as_dtype: dict[np.dtype, np.ndarray] = {}  # reinterpretations (_rebuild_tensor_v3), made once


class _StorageType:
    __slots__ = ("dtype", "name")

    def __init__(self, name: str, dtype: np.dtype):
        self.name, self.dtype = name, dtype


class _Marker:
    """A type that may be named (``torch.Tensor``, ``numpy.ndarray``) but never called."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class _Func:
    """An allow-listed callable: ``fn(unpickler, *args)`` with ``lo <= len(args) <= hi``."""

    __slots__ = ("fn", "hi", "lo", "name")

    def __init__(self, name: str, fn: Callable, lo: int, hi: int):
        self.name, self.fn, self.lo, self.hi = name, fn, lo, hi


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _int_seq(u: RestrictedUnpickler, x: Any, what: str, lo: int = 0) -> tuple[int, ...]:
    if not isinstance(x, (tuple, list)) or len(x) > 64:
        raise u.fail(f"{what} must be a sequence of at most 64 ints, got {describe(x)}")
    for v in x:
        if not _is_int(v) or v < lo or v > _MAX_DIM:
            raise u.fail(f"{what} holds {describe(v)}; expected ints in [{lo}, 2^62]")
    return tuple(x)


def _tensor(u, storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None, dtype=None):
    if not isinstance(storage, Storage):
        raise u.fail(f"tensor record refers to {describe(storage)}, expected a storage")
    if not _is_int(offset) or offset < 0 or offset > _MAX_DIM:
        raise u.fail(f"tensor storage offset is {describe(offset)}; expected a non-negative int")
    size = _int_seq(u, size, "tensor size")
    stride = _int_seq(u, stride, "tensor stride")
    if len(size) != len(stride):
        raise u.fail(f"tensor size has {len(size)} dims but stride has {len(stride)}")
    if not isinstance(requires_grad, bool):
        raise u.fail(f"requires_grad is {describe(requires_grad)}, expected a bool")
    if hooks is not None and not (isinstance(hooks, dict) and not hooks):
        raise u.fail("tensor record carries backward hooks (not loadable)", unsafe=True)
    np_dt = storage.dtype if dtype is None else u.factory.np_dtype(dtype)
    if np_dt is None:
        raise u.fail(f"tensor dtype is {describe(dtype)}, not a torch dtype")
    numel = 1
    for n in size:
        numel *= n
    if numel * np_dt.itemsize > _MAX_BYTES:
        raise u.fail(f"tensor of size {list(size)} overflows int64 bytes")
    avail = storage.numel * storage.dtype.itemsize // np_dt.itemsize
    if dtype is not None and storage.numel * storage.dtype.itemsize % np_dt.itemsize:
        raise u.fail(f"storage '{storage.key}' of {storage.numel} bytes does not hold whole {np_dt} elements")
    if numel:
        need = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
        if need > avail:
            raise u.fail(f"tensor (size {list(size)}, stride {list(stride)}, offset {offset}) needs {fmt_int(need)} "
                         f"elements but storage '{storage.key}' holds {avail}")
    if storage.data is None:  # first pass of a legacy file: sizes are checked, data comes later
        return None
    flat = storage.data
    if dtype is not None and np_dt != flat.dtype:
        if np_dt not in storage.as_dtype:
            view = flat.view(np.uint8).view(np_dt)
            storage.as_dtype[np_dt] = view.byteswap() if storage.big_endian and np_dt.itemsize > 1 else view
        flat = storage.as_dtype[np_dt]
    if numel == 0:
        arr = np.empty(size, dtype=np_dt)
    else:
        arr = np.lib.stride_tricks.as_strided(flat[offset:], shape=size, strides=[s * np_dt.itemsize for s in stride])
    return u.factory.tensor(arr, requires_grad)


def _rebuild_v3(u, storage, offset, size, stride, requires_grad=False, hooks=None, dtype=None, metadata=None):
    return _tensor(u, storage, offset, size, stride, requires_grad, hooks, metadata, dtype)


def _parameter(u, data, requires_grad=True, hooks=None, state=None):
    if data is None:  # legacy first pass
        return None
    if not isinstance(requires_grad, bool) or (hooks is not None and not (isinstance(hooks, dict) and not hooks)):
        raise u.fail("malformed Parameter record")
    if state is not None and not (isinstance(state, (dict, tuple)) and not state):
        raise u.fail("Parameter record carries Python state (not loadable)", unsafe=True)
    return u.factory.parameter(data, requires_grad)


def _from_type_v2(u, func, new_type, args, state):
    if not (isinstance(func, _Func) and func.name in _TENSOR_FUNCS) or not isinstance(args, tuple):
        raise u.fail("_rebuild_from_type_v2 may only rebuild tensors", unsafe=True)
    if not (isinstance(new_type, _Marker) and new_type.name in ("torch.Tensor", "torch.nn.parameter.Parameter")):
        raise u.fail(f"_rebuild_from_type_v2 of {describe(new_type)} (only torch.Tensor)", unsafe=True)
    if state is not None and not (isinstance(state, (dict, tuple)) and not state):
        raise u.fail("tensor record carries Python state (not loadable)", unsafe=True)
    return u.call(func, args)


def _size(u, dims=()):
    if not isinstance(dims, (tuple, list)) or not all(_is_int(d) and abs(d) <= _MAX_DIM for d in dims):
        raise u.fail(f"torch.Size takes a sequence of ints, got {describe(dims)}")
    return u.factory.size(tuple(dims))


def _device(u, kind, index=None):
    if _is_int(kind) and index is None and 0 <= kind < 2**31:
        kind, index = "cuda", kind
    if not isinstance(kind, str) or len(kind) > 64 or not (index is None or (_is_int(index) and 0 <= index < 2**31)):
        raise u.fail(f"torch.device takes a str and an optional int, got {describe(kind)}, {describe(index)}")
    name, _, idx = kind.partition(":")
    if idx:
        if not idx.isdigit() or index is not None or len(idx) > 9:
            raise u.fail(f"invalid device string {describe(kind)}")
        index = int(idx)
    try:
        return u.factory.device(name, index)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise u.fail(f"invalid device {describe(kind)} ({exc})") from None


def _ordered_dict(u, items=()):
    if isinstance(items, dict):
        return collections.OrderedDict(items)
    if not isinstance(items, (list, tuple)):
        raise u.fail(f"OrderedDict takes a list of pairs, got {describe(items)}")
    out: collections.OrderedDict = collections.OrderedDict()
    for pair in items:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise u.fail("OrderedDict takes a list of (key, value) pairs")
        u.check_key(pair[0])
        out[pair[0]] = pair[1]
    return out


def _set_of(kind):
    def build(u, items=()):
        if not isinstance(items, (list, tuple, set, frozenset)):
            raise u.fail(f"{kind.__name__} takes a list, got {describe(items)}")
        for x in items:
            u.check_key(x)
        return kind(items)
    return build


def _complex(u, re=0.0, im=0.0):
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (re, im)):
        raise u.fail("complex takes two numbers")
    try:
        return complex(re, im)
    except OverflowError:
        raise u.fail("complex number out of range") from None


def _encode(u, s, encoding="latin1"):
    if not isinstance(s, str) or encoding not in ("latin1", "latin-1"):
        raise u.fail("_codecs.encode is only allowed as protocol 2 stores bytes (a str, 'latin1')")
    return s.encode("latin1")


def _np_reconstruct(u, cls, shape, tag):
    if not (isinstance(cls, _Marker) and cls.name == "numpy.ndarray") or shape != (0,) or tag != b"b":
        raise u.fail("numpy _reconstruct may only make an ndarray", unsafe=True)
    arr = np.ndarray((0,), np.uint8)
    u.pending_arrays[id(arr)] = arr
    return arr


def _np_dtype(u, code, align=False, copy=True):
    if not isinstance(code, str) or code not in _NUMPY_CODES:
        raise u.fail(f"numpy dtype {describe(code)} is not a plain numeric dtype", unsafe=True)
    return _NUMPY_CODES[code]


def _np_scalar(u, dt, raw=None):
    if not isinstance(dt, np.dtype) or dt not in _NUMPY_CODES.values() or not isinstance(raw, bytes):
        raise u.fail("numpy scalar takes a numeric dtype and its bytes", unsafe=True)
    if len(raw) != dt.itemsize:
        raise u.fail(f"numpy scalar of {dt} has {len(raw)} bytes, expected {dt.itemsize}")
    return np.frombuffer(raw, dtype=dt)[0]


_TENSOR_FUNCS = ("torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
                 "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state")
_FUNCS = [
    _Func("collections.OrderedDict", _ordered_dict, 0, 1),
    _Func("torch._utils._rebuild_tensor", _tensor, 4, 4),
    _Func("torch._utils._rebuild_tensor_v2", _tensor, 4, 7),
    _Func("torch._utils._rebuild_tensor_v3", _rebuild_v3, 4, 8),
    _Func("torch._utils._rebuild_parameter", _parameter, 1, 3),
    _Func("torch._utils._rebuild_parameter_with_state", _parameter, 4, 4),
    _Func("torch._tensor._rebuild_from_type_v2", _from_type_v2, 4, 4),
    _Func("torch.Size", _size, 0, 1),
    _Func("torch.device", _device, 1, 2),
    _Func("builtins.set", _set_of(set), 0, 1),
    _Func("builtins.frozenset", _set_of(frozenset), 0, 1),
    _Func("builtins.complex", _complex, 0, 2),
    _Func("_codecs.encode", _encode, 1, 2),
]
_NUMPY_FUNCS = [_Func("_reconstruct", _np_reconstruct, 3, 3), _Func("dtype", _np_dtype, 1, 3),
                _Func("scalar", _np_scalar, 1, 2)]
_ALLOWED: dict[tuple[str, str], Any] = {tuple(f.name.rsplit(".", 1)): f for f in _FUNCS}  # type: ignore[misc]
for _n in ("set", "frozenset", "complex"):  # protocol 2 spells builtins as __builtin__
    _ALLOWED[("__builtin__", _n)] = _ALLOWED[("builtins", _n)]
_ALLOWED[("torch.nn.parameter", "Parameter")] = _Marker("torch.nn.parameter.Parameter")
_ALLOWED[("torch", "Tensor")] = _ALLOWED[("torch._tensor", "Tensor")] = _Marker("torch.Tensor")
_ALLOWED[("numpy", "ndarray")] = _Marker("numpy.ndarray")
_ALLOWED[("numpy", "dtype")] = _NUMPY_FUNCS[1]
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _NUMPY_FUNCS[0]
    _ALLOWED[(_mod, "scalar")] = _NUMPY_FUNCS[2]
for _name, _dt in STORAGE_DTYPES.items():
    _ALLOWED[("torch", _name)] = _ALLOWED[("torch.storage", _name)] = _StorageType(_name, _dt)


class RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler with an allow-list, checked REDUCE/BUILD and bounded hashing.

    ``storage_loader(key, dtype, numel)`` returns the storage's 1-D array (or None on a first pass).
    """

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, file, path: str, factory: Factory, storage_loader: Callable | None):
        super().__init__(file, encoding="utf-8")
        self.path = path
        self.factory = factory
        self.storage_loader = storage_loader
        self.storages: dict[str, Storage] = {}
        self.pending_arrays: dict[int, np.ndarray] = {}
        self._key_ok: dict[int, Any] = {}
        self._hash_work = 0
        self.big_endian = False

    def fail(self, problem: str, unsafe: bool = False) -> CheckpointError:
        return fail(self.path, problem, unsafe)

    # ------------------------------------------------------------ globals and calls
    def find_class(self, module: str, name: str) -> Any:
        obj = _ALLOWED.get((module, name))
        if obj is None and module == "torch" and name in TORCH_DTYPES:
            try:
                return self.factory.dtype(name)
            except (KeyError, AttributeError, TypeError):
                raise self.fail(f"dtype torch.{name} is not supported") from None
        if obj is None:
            raise self.fail(f"refusing to load global '{module[:100]}.{name[:100]}': only PyTorch tensor records "
                            "and plain data are allowed in checkpoints (the file may contain code; it was not "
                            "executed)", unsafe=True)
        return obj

    def call(self, func: Any, args: Any) -> Any:
        if not isinstance(func, _Func):
            raise self.fail(f"refusing to call {describe(func)} (only allow-listed tensor records; nothing was "
                            "executed)", unsafe=True)
        if not isinstance(args, tuple) or not func.lo <= len(args) <= func.hi:
            raise self.fail(f"{func.name} called with {describe(args) if not isinstance(args, tuple) else len(args)} "
                            "arguments")
        return func.fn(self, *args)

    def _load_reduce(self):
        args = self.stack.pop()
        self.stack[-1] = self.call(self.stack[-1], args)

    dispatch[pickle.REDUCE[0]] = _load_reduce

    def _refuse(self):
        raise self.fail("refusing the NEWOBJ/INST/OBJ/EXT pickle opcodes (they create arbitrary objects; nothing "
                        "was executed)", unsafe=True)

    for _op in (pickle.NEWOBJ, pickle.NEWOBJ_EX, pickle.INST, pickle.OBJ, pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_op[0]] = _refuse

    # ------------------------------------------------------------ state
    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, np.ndarray) and self.pending_arrays.pop(id(inst), None) is inst:
            self._set_array_state(inst, state)
        elif isinstance(inst, np.dtype) and inst in _NUMPY_CODES.values():
            if not isinstance(state, tuple) or state != inst.__reduce__()[2]:
                raise self.fail(f"numpy dtype state {describe(state)} is not that of {inst}")
        elif type(inst) is collections.OrderedDict:
            if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
                state = state[0]
            if state is None:
                return
            if not isinstance(state, dict) or not all(
                    isinstance(k, str) and not k.startswith("__") and not hasattr(collections.OrderedDict, k)
                    for k in state):
                raise self.fail("OrderedDict state must map plain attribute names (no dunders, no method names)",
                                unsafe=True)
            inst.__dict__.update(state)
        else:
            raise self.fail(f"refusing to set state on {type(inst).__name__} objects (only OrderedDict and PyTorch "
                            "tensor records are allowed; nothing was executed)", unsafe=True)

    dispatch[pickle.BUILD[0]] = _load_build

    def _set_array_state(self, arr: np.ndarray, state: Any) -> None:
        ok = isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and isinstance(state[3], bool)
        if ok:
            shape, dt, raw = _int_seq(self, state[1], "numpy array shape"), state[2], state[4]
            ok = isinstance(dt, np.dtype) and dt in _NUMPY_CODES.values() and isinstance(raw, bytes)
        if not ok:
            raise self.fail("numpy array state must be (1, shape, numeric dtype, fortran flag, bytes)", unsafe=True)
        n = 1
        for d in shape:
            n *= d
        if n * dt.itemsize != len(raw):
            raise self.fail(f"numpy array of shape {list(shape)} and {dt} needs {fmt_int(n * dt.itemsize)} bytes, "
                            f"the record has {len(raw)}")
        arr.__setstate__((1, shape, dt, state[3], raw))

    # ------------------------------------------------------------ bounded hashing
    def check_key(self, key: Any) -> None:
        """Refuse dict keys / set items whose hashing could be unbounded (deep, memo-shared tuples)."""
        if isinstance(key, _FUNC_SCALARS) or not isinstance(key, (tuple, frozenset, list, dict, set)):
            if isinstance(key, (_Func, _Marker, _StorageType, Storage, np.ndarray)):
                raise self.fail(f"{type(key).__name__} used as a dict key or set item")
            return
        if isinstance(key, (list, dict, set)):
            raise self.fail(f"unhashable {type(key).__name__} used as a dict key or set item")
        nodes = self._key_ok.get(id(key))
        if nodes is None:
            nodes, todo = 0, [(key, 0)]
            while todo:
                obj, depth = todo.pop()
                nodes += 1
                if nodes > _KEY_NODES or depth > 32:
                    raise self.fail("dict key or set item is nested too deeply (over the hashing budget)")
                if isinstance(obj, (tuple, frozenset)):
                    todo.extend((x, depth + 1) for x in obj)
                elif isinstance(obj, (list, dict, set)):
                    raise self.fail(f"unhashable {type(obj).__name__} inside a dict key or set item")
            self._key_ok[id(key)] = (nodes, key)  # keep key alive so the id stays valid
        else:
            nodes = nodes[0]
        self._hash_work += nodes
        if self._hash_work > _HASH_BUDGET:
            raise self.fail("dict keys and set items exceed the hashing budget")

    def _load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        target = self.stack[-1]
        if not isinstance(target, dict):
            raise self.fail(f"SETITEM on {type(target).__name__}")
        self.check_key(key)
        target[key] = value

    def _load_setitems(self):
        items = self.pop_mark()
        target = self.stack[-1]
        if not isinstance(target, dict) or len(items) % 2:
            raise self.fail(f"SETITEMS on {type(target).__name__}")
        for i in range(0, len(items), 2):
            self.check_key(items[i])
            target[items[i]] = items[i + 1]

    def _load_additems(self):
        items = self.pop_mark()
        target = self.stack[-1]
        if not isinstance(target, set):
            raise self.fail(f"ADDITEMS on {type(target).__name__}")
        for x in items:
            self.check_key(x)
            target.add(x)

    def _load_frozenset(self):
        items = self.pop_mark()
        for x in items:
            self.check_key(x)
        self.append(frozenset(items))

    def _load_append(self):
        value = self.stack.pop()
        target = self.stack[-1]
        if not isinstance(target, list):
            raise self.fail(f"APPEND on {type(target).__name__}")
        target.append(value)

    def _load_appends(self):
        items = self.pop_mark()
        target = self.stack[-1]
        if not isinstance(target, list):
            raise self.fail(f"APPENDS on {type(target).__name__}")
        target.extend(items)

    dispatch[pickle.SETITEM[0]] = _load_setitem
    dispatch[pickle.SETITEMS[0]] = _load_setitems
    dispatch[pickle.ADDITEMS[0]] = _load_additems
    dispatch[pickle.FROZENSET[0]] = _load_frozenset
    dispatch[pickle.APPEND[0]] = _load_append
    dispatch[pickle.APPENDS[0]] = _load_appends

    # ------------------------------------------------------------ storages
    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or len(pid) not in (5, 6):
            raise self.fail(f"unsupported persistent id ({describe(pid)})")
        kind = pid[0].decode("ascii", "replace") if isinstance(pid[0], bytes) else pid[0]
        if kind != "storage":
            raise self.fail(f"unsupported persistent record {describe(kind)}")
        storage_type, key, location, numel = pid[1:5]
        if len(pid) == 6 and pid[5] is not None:
            raise self.fail("legacy storage views are not supported")
        if not isinstance(storage_type, _StorageType):
            raise self.fail(f"persistent record names {describe(storage_type)}, not a storage type")
        if isinstance(key, bytes):
            key = key.decode("ascii", "replace")
        if not isinstance(key, str) or not isinstance(location, str) or len(key) > 256:
            raise self.fail("storage key and location must be strings")
        if not _is_int(numel) or numel < 0 or numel * storage_type.dtype.itemsize > _MAX_BYTES:
            raise self.fail(f"storage '{key}' has size {describe(numel)}; expected a non-negative int")
        st = self.storages.get(key)
        if st is None:  # as torch: the first record of a key decides its type and size
            data = self.storage_loader(key, storage_type.dtype, numel) if self.storage_loader else None
            st = Storage(key, storage_type.dtype, numel, data, self.big_endian)
            self.storages[key] = st
        return st


def unpickle(u: RestrictedUnpickler) -> Any:
    """``u.load()`` with every failure turned into a :class:`CheckpointError` naming the file."""
    try:
        return u.load()
    except CheckpointError:
        raise
    except RecursionError:
        raise u.fail("pickle nests too deeply") from None
    except MemoryError:
        raise u.fail("pickle needs more memory than is available") from None
    except Exception as exc:  # noqa: BLE001 - a malformed pickle: EOF, bad opcode, bad memo index, huge int literal, ...
        msg = str(exc)[:200] if isinstance(exc, (pickle.UnpicklingError, EOFError, ValueError, KeyError)) else ""
        raise u.fail(f"corrupt or truncated checkpoint pickle ({type(exc).__name__}{': ' + msg if msg else ''})") \
            from None
