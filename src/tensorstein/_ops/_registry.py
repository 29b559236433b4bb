"""The op registry: one entry per op, from which come the ``tensorstein.*`` functions, the Tensor methods,
their in-place ``op_`` variants, the operators, ``out=`` support and the type stub (``_tensor.pyi``).

Registration happens at import; the installed function *is* the op function (no wrapper on the call path),
except for the namespace function of an ``out=True`` op whose function has no ``out`` parameter.

>>> @register(aliases=("cubed",), inplace=True)
... def cube(input):
...     '''``input ** 3``.'''
...     return input * input * input
>>> OPS["cube"].methods, OPS["cube"].inplace
(('cube', 'cubed'), ('cube_', 'cubed_'))
>>> del OPS["cube"]  # (a real op stays registered; ``_install`` then puts it on Tensor)
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class OpDef:
    """One registered op: what to install, and where."""

    name: str
    fn: Callable[..., Any]
    functions: tuple[str, ...] = ()  # names in the ``tensorstein`` namespace
    methods: tuple[str, ...] = ()  # names of Tensor methods
    method_fn: Callable[..., Any] | None = None  # the method when it differs from ``fn`` (e.g. ``where``)
    inplace: tuple[str, ...] = ()  # ``op_`` method names
    inplace_fn: Callable[..., Any] | None = None  # a custom in-place method; default: ``_common.inplace``
    dunders: dict[str, Any] = field(default_factory=dict)  # ``__add__`` -> callable, or a method name
    out: bool = False  # the namespace function takes ``out=``
    returns: str = "Tensor"  # return type text for the stub
    prop: bool = False  # install the method as a property (``t.T``)
    module: str = ""


OPS: dict[str, OpDef] = {}


def register(*fns: Callable[..., Any], name: str | None = None, aliases: tuple[str, ...] = (),
             function: bool | tuple[str, ...] = True, method: bool | tuple[str, ...] | Callable[..., Any] = True,
             inplace: bool | Callable[..., Any] = False, dunders: dict[str, Any] | None = None,
             out: bool = False, returns: str | None = None, prop: bool = False):
    """Register an op (decorator, or a call ``register(fn, ...)``; several functions share the options);
    returns the (first) function unchanged.

    ``aliases``: more names for both the function and the method. ``function``/``method``: True, False, or a
    tuple of names overriding the defaults; ``method`` may also be the method callable itself. ``inplace``:
    add ``name_`` (and ``alias_``) methods that compute out of place and write back, or a callable for them.
    ``dunders``: operator names to install, mapped to a callable, None for ``fn``, or the name of a method
    (``{"__iadd__": "add_"}``). ``out``: the namespace
    function accepts ``out=``. ``returns``: the return type for the stub (default from the annotation).
    """
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        op_name = name or f.__name__
        if op_name in OPS and OPS[op_name].fn is not f:
            raise ValueError(f"op {op_name!r} is registered twice ({OPS[op_name].module} and {f.__module__})")
        names = (op_name, *aliases)
        method_fn = method if callable(method) else None
        methods = names if method is True or method_fn is not None else (method or ())
        ann = f.__annotations__.get("return") if hasattr(f, "__annotations__") else None
        OPS[op_name] = OpDef(
            name=op_name, fn=f,
            functions=names if function is True else (function or ()),
            methods=tuple(methods),  # type: ignore[arg-type]
            method_fn=method_fn,
            inplace=tuple(n + "_" for n in names) if inplace else (),
            inplace_fn=inplace if callable(inplace) else None,
            dunders={k: (v or f) for k, v in (dunders or {}).items()},
            out=out, returns=returns or (ann if isinstance(ann, str) else "Tensor"), prop=prop,
            module=getattr(f, "__module__", "") or "")
        return f

    if not fns:
        return deco
    if name is not None and len(fns) > 1:
        raise ValueError("register(): name= needs a single function")
    for f in fns:
        deco(f)
    return fns[0]


def _with_out(fn: Callable[..., Any], write_out: Callable[..., Any]) -> Callable[..., Any]:
    name = fn.__name__

    def op(*args, out=None, **kwargs):
        res = fn(*args, **kwargs)
        return res if out is None else write_out(out, res, name)

    op.__name__, op.__qualname__, op.__doc__, op.__wrapped__ = fn.__name__, fn.__qualname__, fn.__doc__, fn  # type: ignore[attr-defined]
    return op


def namespace_function(op: OpDef, write_out: Callable[..., Any]) -> Callable[..., Any]:
    """The ``tensorstein.<name>`` callable of ``op`` (``fn`` itself unless ``out=`` must be added)."""
    if op.out and "out" not in _params(op.fn):
        return _with_out(op.fn, write_out)
    return op.fn


def _params(fn: Callable[..., Any]) -> tuple[str, ...]:
    try:
        return tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return ()


def install(cls: type, make_inplace: Callable[[Callable[..., Any]], Callable[..., Any]],
            write_out: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
    """Put every registered method/operator on ``cls``; return the namespace (name -> function)."""
    namespace: dict[str, Callable[..., Any]] = {}
    aliased: list[tuple[str, str]] = []
    for op in OPS.values():
        method = op.method_fn or op.fn
        for m in op.methods:
            setattr(cls, m, property(method) if op.prop else method)
        if op.inplace:
            ip = op.inplace_fn or make_inplace(method)
            for m in op.inplace:
                setattr(cls, m, ip)
        for d, f in op.dunders.items():
            if isinstance(f, str):
                aliased.append((d, f))
            else:
                setattr(cls, d, f)
        if op.functions:
            f = namespace_function(op, write_out)
            for n in op.functions:
                namespace[n] = f
    for d, m in aliased:
        setattr(cls, d, getattr(cls, m))
    return namespace
