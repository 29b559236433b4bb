"""Run the code cells of the PyTorch course's notebooks under torch and under ``import tensorstein as torch``.

The course (github.com/ksopyla/pytorch-course) is not part of this repository: point ``TENSORSTEIN_COURSE`` at a
checkout (or at a bare git mirror of it). Each notebook's cells run in order in a fresh subprocess, like a kernel:
what a cell prints, plus the repr of its last expression (a notebook's ``Out[]``), is its output; an exception
becomes one ``<Type>: <message>`` line and the next cell runs. Before comparing, ``tensorstein`` is spelled
``torch`` and runs of spaces collapse (column alignment follows the longer name); lines that differ between two
torch runs (timings, memory addresses) are not compared.

    python tests/course_cells.py            # prints a per-cell diff summary
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

GLOBS = ("docs/00-*/*.ipynb", "docs/01-*/*.ipynb")
ROOT = Path(__file__).resolve().parents[1]


def course_root() -> Path | None:
    """The course checkout or git mirror named by TENSORSTEIN_COURSE, if it holds the notebooks."""
    path = os.environ.get("TENSORSTEIN_COURSE")
    if not path or not Path(path).exists():
        return None
    return Path(path)


def notebooks(root: Path) -> dict[str, dict]:
    """``{relative path: notebook JSON}`` for docs/00-* and docs/01-*, from a checkout or a bare mirror."""
    if (root / "docs").is_dir():
        return {str(p.relative_to(root)): json.loads(p.read_text()) for g in GLOBS for p in sorted(root.glob(g))}
    names = subprocess.run(["git", "--git-dir", str(root), "ls-tree", "-r", "--name-only", "HEAD", "docs"],
                           capture_output=True, text=True, check=True).stdout.split()
    wanted = [n for n in names if n.endswith(".ipynb") and n.split("/")[1][:3] in ("00-", "01-")]
    return {n: json.loads(subprocess.run(["git", "--git-dir", str(root), "show", f"HEAD:{n}"],
                                         capture_output=True, text=True, check=True).stdout) for n in sorted(wanted)}


def code_cells(nb: dict) -> list[str]:
    """The code cells' sources, IPython magics and shell lines dropped."""
    cells = []
    for c in nb.get("cells", []):
        if c.get("cell_type") != "code":
            continue
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        lines = [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        cells.append("\n".join(lines))
    return cells


_RUNNER = r'''
import ast, contextlib, importlib, importlib.abc, importlib.util, io, json, sys
lib, cells = sys.argv[1], json.load(sys.stdin)
if lib == "tensorstein":
    import tensorstein

    class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        """``torch`` and ``torch.x.y`` are tensorstein's modules (one copy each, so classes stay identical)."""
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                return importlib.util.spec_from_loader(name, self)
        def create_module(self, spec):
            return importlib.import_module("tensorstein" + spec.name[len("torch"):])
        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, _Alias())
ns = {"__name__": "__main__"}
outs = []
for src in cells:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            tree = ast.parse(src)
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, "<cell>", "exec"), ns)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), ns)
                if value is not None:
                    print(repr(value))
        except BaseException as e:  # a notebook shows the error and runs on
            print(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    outs.append(buf.getvalue())
json.dump(outs, sys.stdout)
'''


def run(cells: list[str], lib: str, timeout: float = 600) -> list[str]:
    """Each cell's output, running all cells in order in one fresh process with ``lib`` as ``torch``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    res = subprocess.run([sys.executable, "-c", _RUNNER, lib], input=json.dumps(cells), capture_output=True,
                         text=True, timeout=timeout, env=env, cwd=ROOT, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"the {lib} kernel died: {res.stderr[-2000:]}")
    return json.loads(res.stdout)


def normalise(text: str) -> list[str]:
    text = re.sub(" +", " ", text.replace("tensorstein", "torch"))
    return text.rstrip("\n").split("\n") if text else []


def _mask(lines: list[str], unstable: set[int]) -> list[str]:
    return ["<varies between torch runs>" if j in unstable else ln for j, ln in enumerate(lines)]


def compare(cells: list[str]) -> list[tuple[int, str, str]]:
    """``(cell index, torch line, tensorstein line)`` at the first differing line of every differing cell."""
    want, again, got = run(cells, "torch"), run(cells, "torch"), run(cells, "tensorstein")
    diffs = []
    for i, (a, a2, b) in enumerate(zip(want, again, got)):
        la, la2, lb = normalise(a), normalise(a2), normalise(b)
        unstable = {j for j, (x, y) in enumerate(zip(la, la2)) if x != y}
        la, lb = _mask(la, unstable), _mask(lb, unstable)
        if la != lb:
            k = next((j for j, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
            diffs.append((i, la[k] if k < len(la) else "<no line>", lb[k] if k < len(lb) else "<no line>"))
    return diffs


def main() -> None:
    root = course_root()
    if root is None:
        sys.exit("set TENSORSTEIN_COURSE to a checkout (or bare mirror) of github.com/ksopyla/pytorch-course")
    total = same = 0
    for name, nb in notebooks(root).items():
        cells = code_cells(nb)
        diffs = compare(cells)
        total += len(cells)
        same += len(cells) - len(diffs)
        print(f"{name}: {len(cells) - len(diffs)}/{len(cells)} cells print the same")
        for i, a, b in diffs:
            print(f"  cell {i}: torch {a[:100]!r}\n  {' ' * len(str(i))}      tensorstein {b[:100]!r}")
    print(f"total: {same}/{total} cells print the same")


if __name__ == "__main__":
    main()
