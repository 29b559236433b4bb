"""The sample-input table for the differential tests (PyTorch's OpInfo idea), and the comparators.

Every op is an ``OpInfo``: a name, a function ``fn(lib, *args, **kwargs)`` written once for both
libraries (``lib`` is ``torch`` or ``tensorstein``), a list of ``Sample`` and flags. Tensor arguments
are ``T`` specs built from NumPy arrays, so both libraries get bit-identical inputs (same dtype cast,
same non-contiguous view). The test runs the op in both libraries and compares shape, dtype name,
values (exact for ints/bools, per-dtype tolerances for floats) or, where torch raises, the exception
type and the first line of its message. For differentiable ops the gradients for a random upstream
gradient are compared too.
"""
from __future__ import annotations

import math

import numpy as np
import torch

import tensorstein as ts

FLOATS = ("float32", "float64", "float16", "bfloat16")
INTS = ("int8", "int16", "int32", "int64", "uint8")
ALL = FLOATS + INTS + ("bool",)

# (rtol, atol) per dtype for values; reductions/transcendentals in half precision are looser
TOL = {
    "float32": (1.3e-5, 1e-5), "float64": (1e-7, 1e-7),
    "float16": (2e-3, 2e-3), "bfloat16": (1.6e-2, 1e-2),
}
GRAD_TOL = {"float32": (1e-4, 1e-5), "float64": (1e-7, 1e-9)}

_rng = np.random.default_rng(1234)


def rand_array(shape, dtype="float32", domain="real", rng=None):
    """A NumPy array for ``dtype`` (bfloat16 stays float32 here and is cast in ``T.make``)."""
    rng = rng or _rng
    shape = tuple(shape)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in INTS:
        lo, hi = (0, 10) if dtype == "uint8" else (-6, 7)
        if domain == "pos":
            lo, hi = 1, 8
        elif domain == "big":
            lo, hi = (0, 256) if dtype == "uint8" else (-100, 100)
        elif domain == "exp":
            lo, hi = 0, 4
        return rng.integers(lo, hi, size=shape).astype(dtype)
    x = rng.standard_normal(shape).astype(np.float64)
    if domain == "pos":
        x = np.abs(x) + 0.25
    elif domain == "unit":  # (-0.9, 0.9)
        x = np.tanh(x) * 0.9
    elif domain == "exp":
        x = np.abs(x) + 0.5
    npd = "float32" if dtype in ("bfloat16", "float16") else dtype
    if dtype == "float16":
        npd = "float16"
    return x.astype(npd)


_LAYOUTS = {
    None: (lambda s: s, lambda t: t),
    "T": (lambda s: s[:-2] + (s[-1], s[-2]), lambda t: t.transpose(-1, -2)),
    "step": (lambda s: s[:-1] + (2 * s[-1],), lambda t: t[..., ::2]),
    "expand": (lambda s: s[:-1] + (1,), None),  # broadcast view set up in T.make
}


class T:
    """A tensor argument: a NumPy array, an optional dtype cast and an optional non-contiguous layout.

    ``T((3, 4), 'int8', layout='T')`` is a (3, 4) int8 transposed view of a (4, 3) array.
    """

    def __init__(self, shape_or_array, dtype="float32", layout=None, domain="real", grad=True):
        if isinstance(shape_or_array, np.ndarray) or isinstance(shape_or_array, list):
            arr = np.asarray(shape_or_array)
            self.shape = arr.shape
            self.arr = arr if dtype in ("bfloat16",) or dtype is None else arr.astype(dtype)
            if dtype == "bfloat16":
                self.arr = arr.astype("float32")
            self.dtype = dtype or self.arr.dtype.name
            self.layout = None
        else:
            shape = tuple(shape_or_array)
            if layout == "T" and len(shape) < 2:
                layout = "step"
            if layout in ("step", "expand") and len(shape) == 0:
                layout = None
            self.shape = shape
            self.layout = layout
            self.dtype = dtype
            self.arr = rand_array(_LAYOUTS[layout][0](shape), dtype, domain)
        self.grad = grad

    @property
    def is_float(self):
        return self.dtype in FLOATS

    def wants_grad(self):
        return self.grad and self.dtype in ("float32", "float64")

    def base(self, lib):
        t = lib.from_numpy(np.array(self.arr, copy=True))
        if t.dtype != getattr(lib, self.dtype):
            t = t.to(getattr(lib, self.dtype))
        return t

    def as_float64(self):
        if self.dtype != "float32":
            return self
        new = T.__new__(T)
        new.__dict__.update(self.__dict__)
        new.arr, new.dtype = self.arr.astype("float64"), "float64"
        return new

    def make(self, lib, requires_grad=False, given=None):
        """(tensor, leaf): ``leaf`` is the tensor that requires grad (None when it does not)."""
        leaf = None
        if given is not None and id(self) in given:
            t = leaf = given[id(self)]
        else:
            t = self.base(lib)
            if requires_grad and self.wants_grad():
                t.requires_grad_(True)
                leaf = t
        return self.view(t), leaf

    def view(self, t):
        if self.layout == "expand":
            t = t.expand(*self.shape)
        elif self.layout is not None:
            t = _LAYOUTS[self.layout][1](t)
        return t

    def __repr__(self):
        lay = f"/{self.layout}" if self.layout else ""
        shape = "x".join(map(str, self.shape)) or "0d"
        return f"{self.dtype}[{shape}]{lay}"


class Sample:
    def __init__(self, *args, _id=None, **kwargs):
        self.args = args
        self.kwargs = kwargs
        self._id = _id

    def __repr__(self):
        if self._id:
            return self._id
        parts = [_short(a) for a in self.args] + [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return ",".join(parts)

    def as_float64(self):
        conv = lambda x: x.as_float64() if isinstance(x, T) else (  # noqa: E731
            type(x)(conv(y) for y in x) if isinstance(x, (list, tuple)) else x)
        return Sample(*conv(self.args), _id=self._id, **{k: conv(v) for k, v in self.kwargs.items()})

    def tensors(self):
        return [a for a in _walk(self.args) if isinstance(a, T)] + \
               [a for a in _walk(tuple(self.kwargs.values())) if isinstance(a, T)]


def _short(a):
    if isinstance(a, (list, tuple)):
        s = ",".join(_short(x) for x in a)
        return f"[{s}]" if isinstance(a, list) else f"({s})"
    if isinstance(a, float):
        return f"{a:g}"
    if isinstance(a, slice):
        return f"{'' if a.start is None else a.start}:{'' if a.stop is None else a.stop}" + \
               ("" if a.step is None else f":{a.step}")
    return repr(a)


def _walk(x):
    if isinstance(x, (list, tuple)):
        for y in x:
            yield from _walk(y)
    elif isinstance(x, slice):
        yield from _walk((x.start, x.stop, x.step))
    else:
        yield x


def build(x, lib, requires_grad, leaves, given=None):
    """Turn a Sample's (nested) arguments into ``lib`` tensors; collects the grad leaves.

    ``given`` maps ``id(T spec)`` to an existing leaf tensor to use (gradcheck rebuilds views from it).
    """
    if isinstance(x, T):
        t, leaf = x.make(lib, requires_grad, given)
        if leaf is not None:
            leaves.append(leaf)
        return t
    if isinstance(x, DType):
        return getattr(lib, x.name)
    if isinstance(x, list):
        return [build(y, lib, requires_grad, leaves, given) for y in x]
    if isinstance(x, tuple):
        return tuple(build(y, lib, requires_grad, leaves, given) for y in x)
    if isinstance(x, slice):
        return slice(*(build(y, lib, requires_grad, leaves, given) for y in (x.start, x.stop, x.step)))
    return x


class DType:
    """A dtype argument, resolved per library."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


class OpInfo:
    def __init__(self, name, fn, samples, grad=False, gradcheck=False, tol=1.0, xfail=None):
        self.name = name
        self.fn = fn
        self.samples = list(samples)
        self.grad = grad
        self.gradcheck = gradcheck
        self.tol = tol  # multiplier on the per-dtype tolerances
        self.xfail = xfail or {}  # sample id -> reason


# ====================================================================== comparators
def dtype_name(d) -> str:
    return str(d).split(".")[-1]


def to_numpy(t) -> np.ndarray:
    t = t.detach()
    if dtype_name(t.dtype) in ("bfloat16", "float16"):
        t = t.float()
    return np.asarray(t.numpy())


def first_line(e: BaseException) -> str:
    s = str(e)
    return s.split("\n")[0].strip()


def assert_same(got, want, tol=1.0, path="out"):
    """``got`` (tensorstein) equals ``want`` (torch): types, shapes, dtypes, values (recursively)."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, ts.Tensor), f"{path}: expected a Tensor, got {type(got).__name__}"
        assert tuple(got.shape) == tuple(want.shape), f"{path}: shape {tuple(got.shape)} != torch {tuple(want.shape)}"
        gd, wd = dtype_name(got.dtype), dtype_name(want.dtype)
        assert gd == wd, f"{path}: dtype {gd} != torch {wd}"
        a, b = to_numpy(got), to_numpy(want)
        if wd in TOL:
            rtol, atol = TOL[wd]
            np.testing.assert_allclose(a, b, rtol=rtol * tol, atol=atol * tol, equal_nan=True,
                                       err_msg=f"{path} ({wd})")
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"{path} ({wd})")
        return
    if isinstance(want, tuple) and hasattr(want, "_fields"):  # named tuple (values, indices)
        assert hasattr(got, "_fields") or all(hasattr(got, f) for f in want._fields), \
            f"{path}: expected a named tuple with fields {want._fields}"
        for f in want._fields:
            assert_same(getattr(got, f), getattr(want, f), tol, f"{path}.{f}")
        return
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)), f"{path}: expected a sequence, got {type(got).__name__}"
        assert len(got) == len(want), f"{path}: length {len(got)} != torch {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, tol, f"{path}[{i}]")
        return
    if isinstance(want, torch.Size):
        assert isinstance(got, ts.Size) and tuple(got) == tuple(want), f"{path}: {got!r} != {want!r}"
        return
    if isinstance(want, torch.dtype):
        assert dtype_name(got) == dtype_name(want), f"{path}: {got} != {want}"
        return
    if isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got), f"{path}: {got!r} != nan"
        return
    assert type(got) is type(want), f"{path}: type {type(got).__name__} != torch {type(want).__name__}"
    if isinstance(want, float):
        assert math.isclose(got, want, rel_tol=1e-6 * tol, abs_tol=1e-6 * tol), f"{path}: {got} != {want}"
    else:
        assert got == want, f"{path}: {got!r} != torch {want!r}"


def assert_same_error(got_exc, want_exc):
    assert got_exc is not None, f"torch raised {type(want_exc).__name__}: {first_line(want_exc)}; tensorstein did not"
    assert type(got_exc) is type(want_exc) or isinstance(got_exc, type(want_exc)), \
        f"exception type {type(got_exc).__name__} != torch {type(want_exc).__name__} ({first_line(want_exc)!r}); " \
        f"tensorstein said {first_line(got_exc)!r}"
    assert first_line(got_exc) == first_line(want_exc), \
        f"message first line differs:\n  tensorstein: {first_line(got_exc)!r}\n  torch:       {first_line(want_exc)!r}"


def call(fn, lib, sample, requires_grad=False):
    leaves = []
    args = build(sample.args, lib, requires_grad, leaves)
    kwargs = {k: build(v, lib, requires_grad, leaves) for k, v in sample.kwargs.items()}
    try:
        return fn(lib, *args, **kwargs), None, leaves
    except Exception as e:  # noqa: BLE001 - any exception is part of the contract
        return None, e, leaves


def grad_outputs(out):
    """The differentiable tensors among an op's outputs (flattened)."""
    res = []
    for o in (out if isinstance(out, (tuple, list)) else (out,)):
        if isinstance(o, (torch.Tensor, ts.Tensor)) and o.requires_grad:
            res.append(o)
    return res


def upstream(outs, seed):
    """A random upstream gradient per output, as NumPy arrays (identical for both libraries)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(o.shape)).astype(dtype_name(o.dtype)) for o in outs]


# ====================================================================== the samples
def S(*args, _id=None, **kwargs):
    return Sample(*args, _id=_id, **kwargs)


def _shapes_binary():
    return [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (3,)), ((3, 4), ()), ((0, 4), (4,)),
            ((5,), (1,)), ((1,), ())]


def binary_samples(dtypes=ALL, domain_b="real", domain_a="real", int_ok=True, scalars=(2, 2.5, True, 1000, -3)):
    out = []
    for sa, sb in _shapes_binary():
        out.append(S(T(sa, domain=domain_a), T(sb, domain=domain_b)))
    out.append(S(T((3, 4), layout="T", domain=domain_a), T((3, 4), layout="step", domain=domain_b)))
    out.append(S(T((4, 3), layout="expand", domain=domain_a), T((4, 3), layout="T", domain=domain_b)))
    for d in dtypes:
        if d == "float32":
            continue
        out.append(S(T((3, 4), d, domain=domain_a), T((3, 4), d, domain=domain_b)))
        out.append(S(T((2, 3), d, layout="T", domain=domain_a), T((3,), d, layout="step", domain=domain_b)))
    # mixed dtypes: promotion between tensors, and 0-d tensors vs dimensioned tensors
    mixed = [("uint8", "int8"), ("int32", "float16"), ("bool", "int16"), ("bfloat16", "float16"),
             ("int64", "float32"), ("float16", "float64"), ("bool", "float32"), ("uint8", "int64")]
    for da, db in mixed:
        if da in dtypes and db in dtypes:
            out.append(S(T((3,), da, domain=domain_a), T((2, 3), db, domain=domain_b)))
    zero_d = [("float64", "float32"), ("int64", "int8"), ("float32", "float16"), ("float64", "int32"),
              ("int32", "uint8")]
    for d0, d1 in zero_d:
        if d0 in dtypes and d1 in dtypes:
            out.append(S(T((4,), d1, domain=domain_a), T((), d0, domain=domain_b)))
            out.append(S(T((), d0, domain=domain_a), T((4,), d1, domain=domain_b)))
    # Python scalars
    for d in dtypes:
        for s in scalars:
            out.append(S(T((2, 3), d, domain=domain_a), s))
    for d in ("float32", "int64", "float16", "uint8", "bool"):
        if d in dtypes:
            out.append(S(T((), d, domain=domain_a), 3))
    return out


def broadcast_error_samples():
    return [S(T((3, 4)), T((3, 2)), _id="bcast-3x4-3x2"), S(T((2, 3)), T((2,)), _id="bcast-2x3-2"),
            S(T((4, 1, 5)), T((3, 4)), _id="bcast-4x1x5-3x4")]


def unary_samples(dtypes=ALL, domain="real", special=True):
    out = [S(T((3, 4), domain=domain)), S(T((), domain=domain)), S(T((0, 3), domain=domain)),
           S(T((5,), layout="step", domain=domain)), S(T((4, 3), layout="T", domain=domain))]
    for d in dtypes:
        if d != "float32":
            out.append(S(T((2, 3), d, domain=domain)))
    if special:
        for d in ("float32", "float16"):
            if d in dtypes:
                vals = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -2.5, 3.7, -1e-3]
                out.append(S(T(np.array(vals), d), _id=f"special-{d}"))
    return out
