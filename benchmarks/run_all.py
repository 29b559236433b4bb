"""Run every benchmark script and write their figures into BENCHMARKS.md.

Each script times each library in its own process and prints its own table; this runner
records the machine, the date and the command above each table.

    python benchmarks/run_all.py [--quick] [--only core,attention,...] [--output BENCHMARKS.md]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SUITES = {
    "core": ("bench_core.py", "Core: 2048x2048 matmul, per-op overhead, import time, autograd overhead"),
    "training": ("bench_training.py", "Training step of a 4-layer MLP (512 wide, batch 256) with AdamW"),
    "attention": ("bench_attention.py", "Scaled-dot-product attention"),
    "embed": ("bench_embed.py", "Sentence embeddings with all-MiniLM-L6-v2"),
}


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
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def run_suite(name: str, quick: bool) -> tuple[str, str, int]:
    script, _ = SUITES[name]
    cmd = [sys.executable, os.path.join("benchmarks", script)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    out = proc.stdout.strip()
    if proc.returncode != 0:
        out += f"\n(exit code {proc.returncode})\n" + proc.stderr.strip()[-2000:]
    return " ".join(["python"] + cmd[1:]).replace(ROOT + "/", ""), out, proc.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated suites: " + ", ".join(SUITES))
    parser.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"unknown suite(s): {', '.join(unknown)}; choose from {', '.join(SUITES)}", file=sys.stderr)
        return 2
    sections, failed = [], 0
    for name in names:
        if not os.path.exists(os.path.join(HERE, SUITES[name][0])):
            print(f"skipping {name}: benchmarks/{SUITES[name][0]} is missing", file=sys.stderr)
            continue
        print(f"running {name} ...", flush=True)
        command, output, rc = run_suite(name, args.quick)
        failed += rc != 0
        print(output)
        sections.append(f"## {SUITES[name][1]}\n\nCommand: `{command}`\n\n```text\n{output}\n```\n")
    header = (f"# Benchmarks\n\nMachine: {machine()}. Date: {datetime.date.today().isoformat()}. "
              "Each library runs in its own process; ratios are measured in the same run.\n"
              "Regenerate with `python benchmarks/run_all.py` (or `tensorstein bench`).\n\n")
    notes_path = os.path.join(HERE, "NOTES.md")
    notes = open(notes_path).read() + "\n" if os.path.exists(notes_path) else ""
    with open(args.output, "w") as f:
        f.write(header + notes + "\n".join(sections))
    print(f"wrote {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
