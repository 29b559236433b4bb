"""Run benchmark suites through the harness and write BENCHMARKS.md.

    python benchmarks/run_all.py [--quick] [--only core,attention,...] [--output BENCHMARKS.md]

Every suite's section sits between ``<!-- suite:NAME -->`` and
``<!-- /suite:NAME -->`` markers.  Running some suites replaces only their
sections of the existing file (others are kept as they are, new ones are
appended); the file is written atomically (temporary file + ``os.replace``).
The text of benchmarks/NOTES.md heads the file.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile

import harness

HERE = harness.HERE
ROOT = harness.ROOT


def section(name: str, argv: list, quick: bool) -> tuple[str, bool]:
    text, raw = harness.run_suite(name, quick)
    mod = sys.modules[harness.SUITES[name]]
    body = harness.header(name, argv) + "\n" + text
    failed = any("error" in d["info"] for d in raw.values())
    return (f"<!-- suite:{name} -->\n## {mod.TITLE}\n\n```text\n{body.rstrip()}\n```\n"
            f"<!-- /suite:{name} -->\n"), failed


def merge(existing: str, head: str, sections: dict) -> str:
    """``head`` plus the suites' sections: the existing ones, with those in
    ``sections`` replaced, in registry order; new ones appended."""
    old = {m.group(1): m.group(0) for m in
           re.finditer(r"<!-- suite:(\w+) -->\n.*?<!-- /suite:\1 -->\n", existing, re.DOTALL)}
    old.update(sections)
    order = [n for n in harness.SUITES if n in old] + [n for n in old if n not in harness.SUITES]
    return head + "\n".join(old[n] for n in order)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def write_atomic(path: str, text: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".BENCHMARKS.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer cases and repeats (noisier)")
    ap.add_argument("--only", default=",".join(harness.SUITES),
                    help="comma-separated suites: " + ", ".join(harness.SUITES))
    ap.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    a = ap.parse_args(argv)
    names = [n.strip() for n in a.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in harness.SUITES]
    if unknown:
        print(f"unknown suite(s): {', '.join(unknown)}; choose from {', '.join(harness.SUITES)}",
              file=sys.stderr)
        return 2
    sections, failed = {}, 0
    for name in names:
        if not os.path.exists(os.path.join(HERE, harness.SUITES[name] + ".py")):
            print(f"skipping {name}: benchmarks/{harness.SUITES[name]}.py is missing", file=sys.stderr)
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        text, bad = section(name, ["benchmarks/run_all.py", "--only", name] + (["--quick"] if a.quick else []),
                            a.quick)
        failed += bad
        print(text, flush=True)
        sections[name] = text
    notes_path = os.path.join(HERE, "NOTES.md")
    notes = _read(notes_path).rstrip() + "\n\n" if os.path.exists(notes_path) else ""
    head = ("# Benchmarks\n\nRegenerate with `python benchmarks/run_all.py` (or `tensorstein bench`); "
            "one suite: `python benchmarks/run_all.py --only NAME` replaces only its section.\n"
            "Harness and statistic: see benchmarks/harness.py (median of all timed calls, each "
            "library in its own process).\n\n" + notes)
    existing = _read(a.output) if os.path.exists(a.output) else ""
    write_atomic(a.output, merge(existing, head, sections))
    print(f"wrote {a.output}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
