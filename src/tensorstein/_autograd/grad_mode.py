"""Grad-mode switches: no_grad, enable_grad, inference_mode, set_grad_enabled.

Grad mode is per thread, as in torch: a ``no_grad`` block (or a backward pass) in one thread
leaves recording on in the others (it is a context variable, so asyncio tasks get their own copy too).
Each switch works as a context manager and as a decorator:

>>> with no_grad():
...     print(is_grad_enabled())
False
>>> is_grad_enabled()
True
"""
from __future__ import annotations

import contextvars
import functools

# Grad mode lives in a context variable: every thread has its own (a new thread starts with grad mode on),
# and reading it is one C call (``_ENABLED.get()``, ~30 ns), cheaper than a ``threading.local`` attribute.
_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("tensorstein_grad_enabled", default=True)
grad_enabled = _ENABLED.get  # the fast read used on the ops' hot paths
set_enabled = _ENABLED.set


class _GradState:
    """``STATE.enabled``: the current thread's grad mode, readable and writable as an attribute."""

    __slots__ = ()

    @property
    def enabled(self) -> bool:
        return _ENABLED.get()

    @enabled.setter
    def enabled(self, value: bool) -> None:
        _ENABLED.set(bool(value))


STATE = _GradState()


def is_grad_enabled() -> bool:
    """True when operations record the autograd graph (in this thread)."""
    return _ENABLED.get()


class _GradModeContext:
    """Base: sets grad mode on enter, restores it on exit; usable as a decorator."""

    _mode = True

    def __enter__(self):
        self._prev = _ENABLED.get()
        _ENABLED.set(self._mode)
        return self

    def __exit__(self, *exc):
        _ENABLED.set(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Disable gradient recording inside the block."""

    _mode = False


class enable_grad(_GradModeContext):
    """Enable gradient recording inside the block (inside a no_grad block too)."""

    _mode = True


class inference_mode(_GradModeContext):
    """Like no_grad (tensorstein has no separate inference tensors)."""

    def __init__(self, mode: bool = True):
        self._mode = not mode

    def __call__(self, fn):
        mode = not self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode``: a function call, a context manager or a decorator."""

    def __init__(self, mode: bool):
        self._mode = bool(mode)
        self._prev = _ENABLED.get()
        _ENABLED.set(self._mode)

    def __enter__(self):
        return self

    def __call__(self, fn):
        _ENABLED.set(self._prev)
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
