"""Tensor printing that matches ``repr(torch.Tensor)`` character for character.

Everything here is a pure function of a NumPy array plus the module-level
print options.  The tensor class calls :func:`format_tensor` with its data,
the name it wants shown for its dtype, and any trailing annotations
(``requires_grad=True``, ``grad_fn=<MulBackward0>``).

The rules torch follows, summarised:

* **Summarisation.**  When a tensor has more elements than ``threshold``,
  every dimension longer than ``2 * edgeitems`` shows only its first and last
  ``edgeitems`` entries, with ``...`` in between.  Element widths are then
  computed from the shown entries only.
* **Floating point.**  Only finite, non-zero values decide the layout.  If
  they are all whole numbers the tensor prints in "integer mode" (``1.``,
  ``-3.``).  Scientific notation is used when the largest / smallest
  magnitude exceeds 1000, or a magnitude is above 1e8 or below 1e-4 (unless
  ``sci_mode`` forces it on or off).  Otherwise values print with
  ``precision`` decimals.  Every element is right-aligned to a common width.
* **Layout.**  1-d rows wrap so that a line holds as many
  ``width + 2``-character cells as fit in ``linewidth`` minus the indent.
  Nested dimensions are separated by ``,`` plus one newline per remaining
  dimension beyond the first (so 3-d slices are separated by a blank line).
* **Suffixes** (``dtype=...``, ``size=...``, caller-provided ones) follow the
  data after ``", "``, moving to a fresh indented line when the current one
  would overflow ``linewidth``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Any, Callable

import numpy as np

__all__ = ["format_tensor", "set_printoptions", "get_printoptions", "printoptions"]

_PREFIX = "tensor("


# --------------------------------------------------------------------------
# Print options
# --------------------------------------------------------------------------


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


_OPTS = _PrintOptions()

_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set printing options; same meaning as ``torch.set_printoptions``.

    ``profile`` ("default", "short" or "full") is applied first, then any
    explicit option overrides it.  As in torch, ``sci_mode`` is always
    assigned, so omitting it restores automatic selection.
    """
    if profile is not None:
        for name, value in _PROFILES[profile].items():
            setattr(_OPTS, name, value)
    if precision is not None:
        _OPTS.precision = precision
    if threshold is not None:
        _OPTS.threshold = threshold
    if edgeitems is not None:
        _OPTS.edgeitems = edgeitems
    if linewidth is not None:
        _OPTS.linewidth = linewidth
    _OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Current options, as keyword arguments accepted by :func:`set_printoptions`."""
    return dataclasses.asdict(_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Temporarily change print options inside a ``with`` block."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


# --------------------------------------------------------------------------
# Classifying and normalising the input array
# --------------------------------------------------------------------------


def _category(dtype: np.dtype) -> str:
    """One of "bool", "int", "float", "complex"."""
    if dtype.kind == "b":
        return "bool"
    if dtype.kind in "iu":
        return "int"
    if dtype.kind == "f":
        return "float"
    if dtype.kind == "c":
        return "complex"
    # ml_dtypes extension types (bfloat16, float8_*, int4, ...) have kind "V".
    name = dtype.name
    if name.startswith(("int", "uint")):
        return "int"
    if name.startswith(("float", "bfloat")):
        return "float"
    raise TypeError(f"cannot print arrays of dtype {dtype}")


def _as_printable(data: np.ndarray, category: str) -> np.ndarray:
    """Widen to a dtype whose ``tolist()`` gives exact Python scalars."""
    if category == "float":
        return data.astype(np.float64)  # exact for every narrower float type
    if category == "complex":
        return data.astype(np.complex128)
    if category == "int" and data.dtype.kind == "V":
        return data.astype(np.int64)
    return data


# --------------------------------------------------------------------------
# Summarisation
# --------------------------------------------------------------------------


def _shown_values(arr: np.ndarray, edge: int) -> np.ndarray:
    """The elements that appear in a summarised printout, flattened.

    Sub-tensors at one depth all have the same length, so summarising each
    axis independently selects the same elements torch's recursive version
    does.
    """
    if arr.ndim >= 2 and edge == 0:
        return arr.reshape(-1)[:0]
    for axis, n in enumerate(arr.shape):
        if n > 2 * edge:
            # Note: with edge == 0 on a 1-d tensor this keeps everything,
            # mirroring torch's ``x[-0:]``; it does not affect the output.
            keep = np.r_[0:edge, n - edge if edge else 0 : n]
            arr = np.take(arr, keep, axis=axis)
    return arr.reshape(-1)


# --------------------------------------------------------------------------
# Element formatters
# --------------------------------------------------------------------------


class _RealFormatter:
    """Formats single real values to a common width.

    Built from the values that will be shown; decides integer / fixed /
    scientific mode and the column width.
    """

    def __init__(self, values: np.ndarray, category: str) -> None:
        self.is_float = category in ("float", "complex")
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        if not self.is_float:
            self._init_integer(values)
        else:
            self._init_float(values)

    def _init_integer(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        if values.dtype.kind == "b":
            self.width = 5 if not values.all() else 4  # "False" / "True"
        else:
            # The longest decimal string is the most negative or the largest.
            longest = max(len(str(values.min().item())), len(str(values.max().item())))
            self.width = max(1, longest)

    def _init_float(self, values: np.ndarray) -> None:
        decisive = values[np.isfinite(values) & (values != 0)]
        if decisive.size == 0:
            # Nothing to measure: integer mode, width 1, never scientific
            # (even if sci_mode is forced) -- exactly what torch does.
            return
        magnitudes = np.abs(decisive)
        largest, smallest = float(magnitudes.max()), float(magnitudes.min())
        self.int_mode = bool(np.all(decisive == np.ceil(decisive)))
        if _OPTS.sci_mode is None:
            self.sci_mode = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
        else:
            self.sci_mode = bool(_OPTS.sci_mode)

        distinct = np.unique(decisive).tolist()
        if self.sci_mode:
            lengths = [len(self._sci(v)) for v in distinct]
        elif self.int_mode:
            lengths = [len(f"{v:.0f}") + 1 for v in distinct]  # +1 for the "."
        else:
            lengths = [len(self._fixed(v)) for v in distinct]
        self.width = max(self.width, *lengths)

    @staticmethod
    def _sci(value: float, width: int = 0) -> str:
        return f"{value:{width}.{_OPTS.precision}e}"

    @staticmethod
    def _fixed(value: float) -> str:
        return f"{value:.{_OPTS.precision}f}"

    def __call__(self, value: Any) -> str:
        if not self.is_float:
            text = str(value)
        elif self.sci_mode:
            text = self._sci(value, self.width)
        elif self.int_mode:
            text = f"{value:.0f}"
            if math.isfinite(value):
                text += "."
        else:
            text = self._fixed(value)
        return text.rjust(self.width)


class _ComplexFormatter:
    """Formats complex values as ``real+imagj`` using one formatter per part."""

    def __init__(self, values: np.ndarray) -> None:
        self.real = _RealFormatter(values.real, "complex")
        self.imag = _RealFormatter(values.imag, "complex")
        # cell = real width + imag width + "j"
        self.width = self.real.width + self.imag.width + 1

    def __call__(self, value: complex) -> str:
        real_text = self.real(value.real)
        imag_text = (self.imag(value.imag) + "j").lstrip()
        if imag_text[0] in "+-":
            return real_text + imag_text
        return real_text + "+" + imag_text


# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------


def _format_row(row: np.ndarray, indent: int, summarize: bool, fmt: Callable[[Any], str]) -> str:
    """A 1-d tensor: ``[a, b, c]``, wrapped to the line width."""
    edge = _OPTS.edgeitems
    if summarize and not edge:
        cells = ["..."]
    elif summarize and len(row) > 2 * edge:
        cells = [fmt(v) for v in row[:edge].tolist()]
        cells.append(" ...")
        cells += [fmt(v) for v in row[-edge:].tolist()]
    else:
        cells = [fmt(v) for v in row.tolist()]

    cell_width = fmt.width + 2  # type: ignore[attr-defined]  # element + ", "
    per_line = max(1, math.floor((_OPTS.linewidth - indent) / cell_width))
    lines = [", ".join(cells[i : i + per_line]) for i in range(0, len(cells), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _format_nested(arr: np.ndarray, indent: int, summarize: bool, fmt: Callable[[Any], str]) -> str:
    """Any-rank tensor, recursing down to rows."""
    if arr.ndim == 0:
        return fmt(arr.item())
    if arr.ndim == 1:
        return _format_row(arr, indent, summarize, fmt)

    edge = _OPTS.edgeitems
    n = arr.shape[0]
    if summarize and n > 2 * edge:
        indices: list[int | None] = [*range(edge), None, *range(n - edge, n)]
    else:
        indices = list(range(n))
    parts = [
        "..." if i is None else _format_nested(arr[i], indent + 1, summarize, fmt)
        for i in indices
    ]
    separator = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(parts) + "]"


def _format_body(arr: np.ndarray, category: str, indent: int) -> str:
    """The bracketed contents of a non-empty tensor."""
    summarize = arr.size > _OPTS.threshold
    shown = _shown_values(arr, _OPTS.edgeitems) if summarize else arr.reshape(-1)
    fmt: Any
    if category == "complex":
        fmt = _ComplexFormatter(shown)
    else:
        fmt = _RealFormatter(shown, category)
    return _format_nested(arr, indent, summarize, fmt)


def _append_suffixes(text: str, suffixes: Sequence[str], indent: int) -> str:
    """Join ``key=value`` suffixes after the data and close the parenthesis."""
    pieces = [text]
    # torch's own bookkeeping (it over-counts by 2 on the first line); kept so
    # wrapping decisions match exactly.
    line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line_len + len(suffix) + 2 > _OPTS.linewidth:
            pieces.append(",\n" + " " * indent + suffix)
            line_len = indent + len(suffix)
        else:
            pieces.append(", " + suffix)
            line_len += len(suffix) + 2
    pieces.append(")")
    return "".join(pieces)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def format_tensor(
    data: np.ndarray,
    *,
    dtype_name: str,
    is_default_dtype: bool,
    suffixes: Sequence[str] = (),
) -> str:
    """Render ``data`` exactly as ``repr`` of the equivalent torch tensor.

    Args:
        data: the tensor's values (any shape; NumPy or ml_dtypes dtype).
        dtype_name: shown as ``dtype=<dtype_name>`` when a dtype is printed,
            e.g. ``"tensorstein.float64"``.
        is_default_dtype: for floating/complex data, whether the dtype is the
            default floating dtype (or its complex counterpart); such tensors
            omit ``dtype=``.  Ignored for integer and bool data, where -- as in
            torch -- only int64 and bool omit it.  Empty tensors always show
            their dtype unless it is the default floating dtype.
        suffixes: extra annotations appended in order after any
            ``size=``/``dtype=`` (e.g. ``"requires_grad=True"``).
    """
    arr = np.asarray(data)
    category = _category(arr.dtype)
    indent = len(_PREFIX)
    dtype_suffix = "dtype=" + dtype_name
    size_suffix = "size=" + str(tuple(int(n) for n in arr.shape))
    own: list[str] = []

    if arr.size == 0:
        if arr.ndim != 1:
            own.append(size_suffix)
        if not (category == "float" and is_default_dtype):
            own.append(dtype_suffix)
        body = "[]"
    else:
        if not _OPTS.edgeitems:
            own.append(size_suffix)
        if category in ("float", "complex"):
            shows_dtype = not is_default_dtype
        else:
            shows_dtype = arr.dtype not in (np.dtype(np.int64), np.dtype(np.bool_))
        if shows_dtype:
            own.append(dtype_suffix)
        body = _format_body(_as_printable(arr, category), category, indent)

    return _append_suffixes(_PREFIX + body, [*own, *suffixes], indent)
