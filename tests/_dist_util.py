"""Launching test scripts on several MPI ranks (used by tests/test_distributed*.py)."""
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")
needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="needs mpi4py + an MPI library")


def env(**extra):
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, e.get("PYTHONPATH")) if p)
    e.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    e.update(extra)
    return e


def launch(tmp_path, code, n, *args, timeout=90, extra_env=None):
    """Run ``code`` as a script on ``n`` ranks through ``python -m tensorstein run``; the CompletedProcess."""
    script = tmp_path / f"rank_script_{n}.py"
    script.write_text(textwrap.dedent(code))
    cmd = [sys.executable, "-m", "tensorstein", "run", "--nproc-per-node", str(n), str(script), *args]
    return subprocess.run(cmd, env=env(**(extra_env or {})), check=False, capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


def check(result, n_ok=None):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    if n_ok is not None:
        assert result.stdout.count("RANK-OK") == n_ok, result.stdout[-3000:] + result.stderr[-3000:]
