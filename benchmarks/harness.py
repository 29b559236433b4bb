"""The one benchmark harness: every suite in benchmarks/ runs through it.

Adding a suite is one file plus one registry line:

1. ``benchmarks/bench_<name>.py`` defines ``TITLE`` (its heading in
   BENCHMARKS.md), ``LIBRARIES`` (a tuple of library names) and
   ``cases(lib, quick) -> list[Case]``, which runs inside the child process of
   ``lib`` (import the library there, build inputs, return the cases that
   apply to it).  Optional: ``BASELINE`` (the library ratios are taken
   against, default ``"torch"``) and ``after(results) -> str`` for extra
   lines (a plot, a summary) under the table.  End the file with::

       if __name__ == "__main__":
           sys.exit(harness.main(["<name>"] + sys.argv[1:]))

2. Add ``"<name>": "bench_<name>"`` to :data:`SUITES` below.

Rules every suite gets from here:

* each library runs in its own fresh subprocess; the libraries alternate over
  ``rounds`` (order reversed every other round; a suite's ``ROUNDS``, else 2), so
  load from elsewhere hits them alike;
* the child environment has ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
  removed (users' machines do not set them; with them NumPy's OpenBLAS runs
  the Haswell sgemm kernel) and ``src/`` first on ``PYTHONPATH``; the BLAS
  each child actually loaded (threadpoolctl: library, version, kernel
  architecture, threads) is printed;
* **one statistic**: the median over all timed calls (``repeats`` per round
  after ``warmup`` untimed calls, pooled over the rounds), the minimum printed
  beside it; a call of a case with ``number`` > 1 runs it that many times and
  counts the mean; ratios are ``baseline median / library median`` (> 1:
  faster than the baseline, torch unless the suite says otherwise);
* the machine, CPU, date and command head every section.

Run one suite: ``python benchmarks/harness.py attention [--quick]`` (or
``python benchmarks/bench_attention.py``); all suites into BENCHMARKS.md:
``python benchmarks/run_all.py``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# suite name -> module in benchmarks/ (one line per suite)
SUITES = {
    "core": "bench_core",
    "training": "bench_training",
    "attention": "bench_attention",
    "embed": "bench_embed",
    "elementwise": "bench_elementwise",
    "layers": "bench_layers",
    "models": "bench_models",
}

_UNSET_IN_CHILD = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_CHILD_T0 = time.perf_counter()  # child start (for start-up measurements)


@dataclass
class Case:
    """One timed case.  ``fn()`` is called ``warmup`` times, then ``repeats``
    times timed (``None``: the suite default, 7, or 3 with ``--quick``; the
    repeats stop early, after 3, once ``budget_s`` seconds are spent).

    ``number``: runs of ``fn`` per timed call (seconds are per run).
    ``work`` + ``unit``: per-run work (e.g. FLOP with ``unit="GFLOP/s"`` and
    ``scale=1e-9``, or items with ``unit="sentences/s"``) for a rate column.
    ``self_timed``: ``fn`` returns its own seconds (or a dict with ``seconds``
    and extra printed fields) instead of being timed by the harness.
    ``info()``: extra fields printed after timing (e.g. peak memory).
    """

    name: str
    fn: Callable
    number: int = 1
    repeats: int | None = None
    warmup: int = 1
    budget_s: float = 20.0
    work: float | None = None
    unit: str = ""
    scale: float = 1.0
    self_timed: bool = False
    info: Callable[[], dict] | None = None
    extra: dict = field(default_factory=dict)


def elapsed_since_start() -> float:
    """Seconds since the child process imported this module (start-up cases)."""
    return time.perf_counter() - _CHILD_T0


# ------------------------------------------------------------------ child side
def _blas_info() -> list:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                   "threading_layer")}
            for i in threadpool_info() if i.get("user_api") == "blas"]


def _lib_info(lib: str) -> dict:
    info = {}
    mod = sys.modules.get(lib.replace("-", "_"))
    if mod is not None:
        info["version"] = getattr(mod, "__version__", "")
    for m in (mod, sys.modules.get("torch")):  # sentence-transformers: torch's threads
        if m is not None and hasattr(m, "get_num_threads"):
            info["threads"] = m.get_num_threads()
            break
    info["blas"] = _blas_info()
    return info


def _time_case(case: Case, repeats: int) -> dict:
    samples, extra = [], dict(case.extra)
    reps = case.repeats or repeats
    for _ in range(case.warmup):
        case.fn()
    start = time.perf_counter()
    for _ in range(reps):
        if case.self_timed:
            r = case.fn()
            if isinstance(r, dict):
                extra.update({k: v for k, v in r.items() if k != "seconds"})
                r = r["seconds"]
            samples.append(float(r))
        else:
            t = time.perf_counter()
            for _ in range(case.number):
                case.fn()
            samples.append((time.perf_counter() - t) / case.number)
        if len(samples) >= 3 and time.perf_counter() - start > case.budget_s:
            break
    if case.info is not None:
        extra.update(case.info())
    return {"name": case.name, "samples": samples, "work": case.work, "unit": case.unit,
            "scale": case.scale, "extra": extra}


def _child(suite: str, lib: str, quick: bool) -> None:
    sys.path.insert(0, HERE)
    sys.modules.setdefault("harness", sys.modules[__name__])  # suites share this module
    mod = importlib.import_module(SUITES[suite])
    repeats = 3 if quick else 7
    for case in mod.cases(lib, quick):
        res = _time_case(case, repeats)
        print("RESULT " + json.dumps(res), flush=True)
    info = _lib_info(lib)
    try:
        import resource

        info["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except ImportError:  # pragma: no cover - not on POSIX
        pass
    print("INFO " + json.dumps(info), flush=True)


# ----------------------------------------------------------------- parent side
def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _UNSET_IN_CHILD}
    src = os.path.join(ROOT, "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        usable = os.cpu_count()
    return f"{cpu}, {os.cpu_count()} CPUs ({usable} usable), {platform.system()}, Python {platform.python_version()}"


def _run_child(suite: str, lib: str, quick: bool, timeout: float):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", suite, lib] + (["--quick"] if quick else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), cwd=ROOT,
                           timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return [], {"error": f"timed out after {timeout:.0f} s"}
    results, info = [], {}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            results.append(json.loads(line[7:]))
        elif line.startswith("INFO "):
            info = json.loads(line[5:])
    if p.returncode != 0:
        info["error"] = (p.stderr.strip().splitlines() or [f"exit code {p.returncode}"])[-1]
    return results, info


def run_suite(suite: str, quick: bool = False, rounds: int | None = None,
              libs: list | None = None, timeout: float = 1800) -> tuple[str, dict]:
    """Run one suite; returns (text block, raw results by library)."""
    sys.path.insert(0, HERE)
    mod = importlib.import_module(SUITES[suite])
    libs = list(libs or mod.LIBRARIES)
    rounds = rounds or (1 if quick else getattr(mod, "ROUNDS", 2))
    raw = {lib: {"results": {}, "info": {}} for lib in libs}
    for rnd in range(rounds):
        for lib in libs if rnd % 2 == 0 else libs[::-1]:
            print(f"[{suite}] {lib} round {rnd + 1}/{rounds}", file=sys.stderr, flush=True)
            results, info = _run_child(suite, lib, quick, timeout)
            raw[lib]["info"] = info or raw[lib]["info"]
            for r in results:
                prev = raw[lib]["results"].setdefault(r["name"], r)
                if prev is not r:
                    prev["samples"] += r["samples"]
                    prev["extra"].update(r["extra"])
    text = format_results(mod, raw)
    after = getattr(mod, "after", None)
    if after is not None:
        text += after(raw)
    return text, raw


def _stat(r: dict) -> tuple[float, float]:
    return statistics.median(r["samples"]), min(r["samples"])


def format_results(mod, raw: dict) -> str:
    lines = []
    for lib, d in raw.items():
        info = d["info"]
        blas = "; ".join(f"{b['internal_api']} {b['version']} ({b['architecture']}, "
                         f"{b['num_threads']} threads)" for b in info.get("blas", [])) or "none found"
        desc = f"{lib} {info.get('version', '')}".strip()
        if "threads" in info:
            desc += f", {info['threads']} threads"
        desc += f", BLAS: {blas}"
        if "peak_rss_mib" in info:
            desc += f", peak RSS {info['peak_rss_mib']:.0f} MiB"
        if "error" in info:
            desc += f"  FAILED: {info['error']}"
        lines.append(desc)
    lines.append(f"base/this = {getattr(mod, 'BASELINE', 'torch')} median / this median (> 1: faster)")
    lines.append("")
    names = []
    for d in raw.values():
        names += [n for n in d["results"] if n not in names]
    w = max([len(n) for n in names] + [4])
    baseline = getattr(mod, "BASELINE", "torch")
    lines.append(f"{'case':{w}}  {'library':22} {'median':>11} {'min':>11}  {'rate':>16}  "
                 f"{'base/this':>10}  extra")
    for n in names:
        base = raw.get(baseline, {}).get("results", {}).get(n)
        for lib, d in raw.items():
            r = d["results"].get(n)
            if r is None or not r["samples"]:
                continue
            med, mn = _stat(r)
            rate = ""
            if r["work"]:
                rate = f"{r['work'] * r['scale'] / med:.1f} {r['unit']}"
            ratio = f"{_stat(base)[0] / med:.2f}x" if base and base["samples"] and lib != baseline else ""
            extra = ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in r["extra"].items())
            lines.append(f"{n:{w}}  {lib:22} {_fmt_s(med):>11} {_fmt_s(mn):>11}  {rate:>16}  "
                         f"{ratio:>10}  {extra}".rstrip())
    return "\n".join(lines) + "\n"


def _fmt_s(s: float) -> str:
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3f} ms"
    return f"{s * 1e6:.2f} us"


def header(suite: str, argv: list) -> str:
    mod = importlib.import_module(SUITES[suite])
    cmd = "python " + " ".join(argv)
    return (f"Machine: {machine()}\nDate: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n"
            f"Command: {cmd}\nSuite: {suite} -- {mod.TITLE}\n"
            "Statistic: median of all timed calls (min beside it); each library in its own process, "
            f"{', '.join(_UNSET_IN_CHILD)} unset in the child\n")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        _child(argv[1], argv[2], "--quick" in argv[3:])
        return 0
    ap = argparse.ArgumentParser(description="Run one benchmark suite and print its table.")
    ap.add_argument("suite", choices=sorted(SUITES))
    ap.add_argument("--quick", action="store_true", help="fewer cases and repeats (noisier)")
    ap.add_argument("--rounds", type=int, help="alternating rounds per library (default 2, quick 1)")
    ap.add_argument("--libs", help="comma-separated subset of the suite's libraries")
    a = ap.parse_args(argv)
    sys.path.insert(0, HERE)
    libs = [x for x in a.libs.split(",") if x] if a.libs else None
    text, raw = run_suite(a.suite, a.quick, a.rounds, libs)
    print(header(a.suite, [os.path.relpath(os.path.abspath(__file__), ROOT)] + argv))
    print(text)
    failed = any("error" in d["info"] for d in raw.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
