"""Run a snippet in a fresh interpreter: the team's and BLAS's set-up happen once per process."""
from __future__ import annotations

import os
import subprocess
import sys


def python_output(code: str, timeout: float = 120, **env: str) -> str:
    """The stdout of ``python -c code`` with ``env`` added to this process's environment; the test fails on a
    non-zero exit, showing its stderr."""
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, res.stderr
    return res.stdout
