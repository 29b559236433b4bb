"""The lesson's program, run as written with ``import tensorstein as torch``, and the same programs run with
torch on the same NumPy-generated inputs: printed lines and values must agree."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

LESSON = '''
import torch
A = torch.randn(3, 4)
B = torch.randn(4, 2)
print("Matrix A shape:", A.shape)
print("Matrix B shape:", B.shape)
C = torch.matmul(A, B)
print("Result C shape:", C.shape)
print("\\nMwahahaha! The matrices have been multiplied!")
'''

# The same steps on fixed NumPy inputs, plus the lesson's other snippets; prints one JSON line of results.
PROGRAM = '''
import json, sys
import numpy as np
import {module} as torch

rng = np.random.default_rng(2024)
a = torch.from_numpy(rng.standard_normal((3, 4)).astype(np.float32))
b = torch.from_numpy(rng.standard_normal((4, 2)).astype(np.float32))
c = torch.matmul(a, b)
print("Matrix A shape:", a.shape)
print("Result C shape:", c.shape)

x = torch.from_numpy(rng.standard_normal((2, 3)).astype(np.float32))
y = torch.from_numpy(rng.standard_normal((2, 3)).astype(np.float32))
ew = x * y                      # element-wise multiplication
mm = torch.mm(a, b)
ba = torch.from_numpy(rng.standard_normal((5, 3, 4)).astype(np.float32))
bb = torch.from_numpy(rng.standard_normal((5, 4, 2)).astype(np.float32))
bm = torch.bmm(ba, bb)
print("bmm shape:", bm.shape)

# quantization to int8
w = torch.from_numpy(rng.standard_normal((4, 6)).astype(np.float32))
info = torch.iinfo(torch.int8)
scale = w.abs().max() / info.max
q = (w / scale).round().clamp(info.min, info.max).to(torch.int8)
deq = q.float() * scale
print("int8 range:", info.min, info.max)
print("q dtype:", q.dtype)

out = dict(c=c.tolist(), ew=ew.tolist(), mm=mm.tolist(), bm=bm.tolist(), scale=float(scale), q=q.tolist(),
           deq=deq.tolist(), err=float((w - deq).abs().max()))
print("JSON " + json.dumps(out))
'''


def _run(code: str) -> str:
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _as_tensorstein(code: str) -> str:
    return code.replace("import torch", "import tensorstein as torch")


def test_lesson_program_prints_expected_lines():
    out = _run(_as_tensorstein(textwrap.dedent(LESSON)))
    assert out.splitlines() == [
        "Matrix A shape: tensorstein.Size([3, 4])",
        "Matrix B shape: tensorstein.Size([4, 2])",
        "Result C shape: tensorstein.Size([3, 2])",
        "",
        "Mwahahaha! The matrices have been multiplied!",
    ]


def test_lesson_output_equals_torch_up_to_module_name():
    ts_out = _run(_as_tensorstein(textwrap.dedent(LESSON)))
    torch_out = _run(textwrap.dedent(LESSON))
    assert ts_out.replace("tensorstein", "torch") == torch_out


def test_lesson_values_match_torch_on_same_inputs():
    outs = {}
    for module in ("tensorstein", "torch"):
        text = _run(PROGRAM.format(module=module))
        lines = text.splitlines()
        outs[module] = (lines[:-1], json.loads(lines[-1][len("JSON "):]))
    ts_lines, ts_vals = outs["tensorstein"]
    th_lines, th_vals = outs["torch"]
    assert [line.replace("tensorstein", "torch") for line in ts_lines] == th_lines
    assert ts_lines[0] == "Matrix A shape: tensorstein.Size([3, 4])"
    assert "q dtype: tensorstein.int8" in ts_lines and "int8 range: -128 127" in ts_lines
    for key in ("c", "ew", "mm", "bm", "deq"):
        np.testing.assert_allclose(np.array(ts_vals[key]), np.array(th_vals[key]), rtol=1e-5, atol=1e-5, err_msg=key)
    assert ts_vals["q"] == th_vals["q"]  # rounding and clamping to int8 are exact
    assert ts_vals["scale"] == pytest.approx(th_vals["scale"], rel=1e-7)
    assert ts_vals["err"] <= ts_vals["scale"] / 2 + 1e-6
