"""Profiler events, their per-op averages and torch's summary table (same columns and formatting).

>>> import tensorstein as torch
>>> with torch.profiler.profile() as prof:
...     _ = torch.ones(2, 2) @ torch.ones(2, 2)
>>> "matmul" in prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=5)
True
"""
from __future__ import annotations


def _format_time(us):
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _format_share(us, total):
    return "NaN" if total == 0 else f"{us * 100.0 / total:.2f}%"


class FunctionEvent:
    """One recorded call: ``name``, ``cpu_time_total`` and ``self_cpu_time_total`` in microseconds."""

    def __init__(self, name, input_shapes=None):
        self.name = self.key = name
        self.input_shapes = input_shapes
        self.cpu_parent = None
        self.children_ns = 0
        self.start_ns = self.end_ns = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.count = 1

    @property
    def cpu_time(self):
        return self.cpu_time_total

    def __repr__(self):
        return (f"<FunctionEvent name={self.name} cpu_time_total={_format_time(self.cpu_time_total)} "
                f"self_cpu_time_total={_format_time(self.self_cpu_time_total)} input_shapes={self.input_shapes}>")


class FunctionEventAvg:
    """The events of one key (op name, and input shapes when grouped by them) summed."""

    def __init__(self, key, input_shapes=None):
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.cpu_parent = None

    def add(self, ev):
        self.count += 1
        self.cpu_time_total += ev.cpu_time_total
        self.self_cpu_time_total += ev.self_cpu_time_total

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def self_cpu_time(self):
        return self.self_cpu_time_total / self.count if self.count else 0.0

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={_format_time(self.self_cpu_time_total)} "
                f"cpu_time={_format_time(self.cpu_time)} input_shapes={self.input_shapes}>")


class EventList(list):
    """A list of events with ``key_averages()``, ``table()`` and ``self_cpu_time_total``."""

    def key_averages(self, group_by_input_shape=False):
        groups = {}
        for ev in self:
            shapes = str(ev.input_shapes) if group_by_input_shape else None
            avg = groups.get((ev.name, shapes))
            if avg is None:
                avg = groups[(ev.name, shapes)] = FunctionEventAvg(ev.name, ev.input_shapes if shapes else None)
            avg.add(ev)
        return EventList(groups.values())

    @property
    def self_cpu_time_total(self):
        return sum(ev.self_cpu_time_total for ev in self)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False, time_unit=None):
        return _build_table(self, sort_by, header, row_limit, max_name_column_width, max_shapes_column_width,
                            top_level_events_only)

    def __str__(self):
        return self.table()


def _build_table(events, sort_by, header, row_limit, max_name_width, max_shapes_width, top_level_only):
    if not events:
        return ""
    has_shapes = any(ev.input_shapes is not None and len(ev.input_shapes) > 0 for ev in events)
    if sort_by is not None:
        key = sort_by.replace("cuda", "device").replace("gpu", "device")
        events = sorted(events, key=lambda ev: getattr(ev, key), reverse=True)
    name_w = min(max(len(ev.key) for ev in events) + 4, max_name_width)
    shapes_w = min(max(len(str(ev.input_shapes)) for ev in events) + 4, max_shapes_width)
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
    widths = [name_w] + [12] * 6
    if has_shapes:
        headers.append("Input Shapes")
        widths.append(shapes_w)
    row_format = "".join("{: >" + str(w) + "}  " for w in widths)
    sep = "".join("-" * w + "  " for w in widths)
    line_length = sum(w + 2 for w in widths) - 2
    total = sum(ev.self_cpu_time_total for ev in events)
    out = []
    if header is not None:
        out += ["=" * line_length, header]
    if top_level_only:
        out += ["=" * line_length, "This report only display top-level ops statistics"]
    out += [sep, row_format.format(*headers), sep]
    shown = 0
    for ev in events:
        if shown == row_limit:
            break
        if top_level_only and ev.cpu_parent is not None:
            continue
        shown += 1
        name = ev.key
        if len(name) >= max_name_width - 3:
            name = name[:max_name_width - 3] + "..."
        row = [name, _format_share(ev.self_cpu_time_total, total), _format_time(ev.self_cpu_time_total),
               _format_share(ev.cpu_time_total, total), _format_time(ev.cpu_time_total), _format_time(ev.cpu_time),
               ev.count]
        if has_shapes:
            row.append(str(ev.input_shapes)[:shapes_w])
        out.append(row_format.format(*row))
    out += [sep, f"Self CPU time total: {_format_time(total)}"]
    return "".join(line + "\n" for line in out)
