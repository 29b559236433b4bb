"""The CPU profiler: while a ``profile`` is active, the public op functions (``tensorstein._ops``,
``nn.functional``) and the Tensor's op methods and operators are swapped for timing wrappers; they are
put back when it stops. Each call becomes an event ``aten::<op>`` with its total and self time
(total minus the ops it called), and, with ``record_shapes``, its input shapes.

>>> import tensorstein as torch
>>> model, x = torch.nn.Linear(4, 2), torch.randn(3, 4)
>>> with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
...     _ = model(x)
>>> "linear" in prof.key_averages().table(sort_by="cpu_time_total", row_limit=10)
True
"""
from __future__ import annotations

import enum
import functools
import json
import re
import sys
import time
import types

from .._tensor import Tensor
from ._table import EventList, FunctionEvent

_ACTIVE = None  # the running profile, or None
_OP_MODULES = ("tensorstein._ops.", "tensorstein.nn._functional.", "tensorstein.nn._attention", "tensorstein.linalg")
_NOT_OPS = {"manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state", "broadcast_shapes",
            "is_grad_enabled", "set_grad_enabled", "infer_shape", "needs_grad", "attach",
            "node_type", "get_default_dtype", "set_default_dtype", "promote_types", "result_type"}
_TENSOR_SKIP = {"numpy", "item", "tolist", "size", "dim", "ndimension", "numel", "nelement", "element_size",
                "stride", "data_ptr", "storage_offset", "is_floating_point", "is_complex", "backward", "register_hook",
                "retain_grad", "requires_grad_", "is_contiguous", "type", "untyped_storage", "storage", "get_device",
                "is_signed", "cpu", "cuda", "pin_memory", "share_memory_", "is_shared", "is_pinned", "apply_"}
_DUNDER = re.compile(r"__(r|i)?(add|sub|mul|truediv|floordiv|mod|pow|matmul|and|or|xor|neg|abs|invert|getitem|"
                     r"setitem|eq|ne|lt|le|gt|ge)__")
_DUNDER_NAMES = {"getitem": "index", "setitem": "index_put_", "truediv": "div", "floordiv": "floor_divide",
                 "mod": "remainder", "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
                 "invert": "bitwise_not"}


class ProfilerActivity(enum.Enum):
    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


def supported_activities():
    return {ProfilerActivity.CPU}


def _op_name(attr: str) -> str:
    m = _DUNDER.fullmatch(attr)
    if not m:
        return "aten::" + attr
    base = _DUNDER_NAMES.get(m.group(2), m.group(2))
    if m.group(1) == "r" and base == "sub":
        base = "rsub"
    return "aten::" + base + ("_" if m.group(1) == "i" else "")


def _shape_of(a):
    return list(a._data.shape) if isinstance(a, Tensor) else []


def _wrap(fn, name):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        prof = _ACTIVE
        if prof is None:
            return fn(*args, **kwargs)
        return prof._run(name, fn, args, kwargs)
    wrapper._profiled = fn
    return wrapper


def _op_functions():
    """{id: (function, name)} of the op functions the public namespaces export (torch, nn.functional, linalg)."""
    found = {}
    for modname in ("tensorstein", "tensorstein.nn.functional", "tensorstein.linalg"):
        mod = sys.modules.get(modname)
        if mod is None:
            continue
        for attr, obj in vars(mod).items():
            if (attr.startswith("_") or attr in _NOT_OPS or not isinstance(obj, types.FunctionType)
                    or not obj.__module__.startswith(_OP_MODULES)):
                continue
            found[id(obj)] = (obj, "aten::" + obj.__name__)
    return found


class _Patcher:
    """Swaps op functions for wrappers everywhere tensorstein refers to them, and restores them."""

    def __init__(self):
        self.undo = []

    def install(self):
        targets = _op_functions()
        wrappers = {k: _wrap(fn, name) for k, (fn, name) in targets.items()}
        for modname, mod in list(sys.modules.items()):
            if mod is None or not (modname == "tensorstein" or modname.startswith("tensorstein.")):
                continue
            ns = vars(mod)
            for attr, obj in list(ns.items()):
                w = wrappers.get(id(obj))
                if w is not None and targets[id(obj)][0] is obj:
                    self.undo.append((ns, attr, obj))
                    ns[attr] = w
        for attr, obj in list(vars(Tensor).items()):
            if not callable(obj) or isinstance(obj, (type, staticmethod, classmethod, property)):
                continue
            if attr.startswith("_") and not _DUNDER.fullmatch(attr) or attr in _TENSOR_SKIP:
                continue
            self.undo.append((Tensor, attr, obj))
            setattr(Tensor, attr, _wrap(obj, _op_name(attr)))

    def restore(self):
        for ns, attr, obj in reversed(self.undo):
            if ns is Tensor:
                setattr(Tensor, attr, obj)
            else:
                ns[attr] = obj
        self.undo = []


class profile:
    """Record the CPU time of every op (and ``record_function`` range) run inside the context."""

    def __init__(self, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None, execution_trace_observer=None, acc_events=False, use_cuda=None,
                 custom_trace_id_callback=None):
        self.activities = set(activities) if activities else supported_activities()
        self.schedule, self.on_trace_ready = schedule, on_trace_ready
        self.record_shapes = record_shapes
        self.step_num = 0
        self._events = []
        self._stack = []
        self._patcher = None

    # -------------------------------------------------------------- recording
    def _run(self, name, fn, args, kwargs):
        stack = self._stack
        if stack and stack[-1].name == name:  # an alias calling its own op: one event
            return fn(*args, **kwargs)
        ev = FunctionEvent(name, [_shape_of(a) for a in args] if self.record_shapes else None)
        self._begin(ev)
        try:
            return fn(*args, **kwargs)
        finally:
            self._end(ev)

    def _begin(self, ev):
        ev.cpu_parent = self._stack[-1] if self._stack else None
        self._stack.append(ev)
        ev.start_ns = time.perf_counter_ns()

    def _end(self, ev):
        ev.end_ns = time.perf_counter_ns()
        total = ev.end_ns - ev.start_ns
        ev.cpu_time_total = total / 1000.0
        self._stack.pop()
        if ev.cpu_parent is not None:
            ev.cpu_parent.children_ns += total
        ev.self_cpu_time_total = (total - ev.children_ns) / 1000.0
        self._events.append(ev)

    # -------------------------------------------------------------- control
    def start(self):
        global _ACTIVE
        if _ACTIVE is not None:
            raise RuntimeError("Profiler is already enabled on this thread")
        self._patcher = _Patcher()
        self._patcher.install()
        _ACTIVE = self

    def stop(self):
        global _ACTIVE
        if _ACTIVE is self:
            _ACTIVE = None
            self._patcher.restore()
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def step(self):
        self.step_num += 1

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -------------------------------------------------------------- results
    def events(self):
        return EventList(sorted(self._events, key=lambda e: e.start_ns))

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        return self.events().key_averages(group_by_input_shape)

    def export_chrome_trace(self, path):
        t0 = min((e.start_ns for e in self._events), default=0)
        trace = [{"ph": "X", "cat": "cpu_op", "name": e.name, "pid": 0, "tid": 0, "ts": (e.start_ns - t0) / 1000,
                  "dur": e.cpu_time_total, "args": {"Input Dims": e.input_shapes or []}} for e in self.events()]
        with open(path, "w") as f:
            json.dump({"traceEvents": trace}, f)


class record_function:
    """Label a region: it shows up in the profile's tables under ``name``; usable as a decorator."""

    def __init__(self, name, args=None):
        self.name, self.args = name, args
        self._event = None

    def __enter__(self):
        prof = _ACTIVE
        if prof is not None:
            self._prof, self._event = prof, FunctionEvent(self.name, [] if prof.record_shapes else None)
            prof._begin(self._event)
        return self

    def __exit__(self, *exc):
        if self._event is not None:
            self._prof._end(self._event)
            self._event = None
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)
        return wrapped


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """Accepted for compatibility; tensorstein's profiler records every step of the profiled region."""
    def fn(step):
        return None
    return fn
