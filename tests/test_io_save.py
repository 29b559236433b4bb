"""``tensorstein.save`` / ``load``: torch round trips both ways, every object type, atomic writes that behave
like ``open()`` (mode, symlinks, stale temp files, errors naming the target)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import tensorstein as ts
from tensorstein.io import CheckpointError

torch = pytest.importorskip("torch")
SRC = os.path.join(os.path.dirname(__file__), "..", "src")


def _np(t):
    return t.detach().numpy()


def _assert_same(a, b, path="obj"):
    """a: tensorstein side, b: torch side (or tensorstein); recursive equality with types and shapes."""
    if isinstance(b, torch.Tensor) or isinstance(a, ts.Tensor):
        assert isinstance(a, ts.Tensor) and isinstance(b, (torch.Tensor, ts.Tensor)), path
        assert tuple(a.shape) == tuple(b.shape), path
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], path
        assert a.requires_grad == b.requires_grad, path
        assert (type(a).__name__ == "Parameter") == (type(b).__name__ == "Parameter"), path
        bb = b.detach().float().numpy() if str(b.dtype).endswith("bfloat16") and isinstance(b, torch.Tensor) \
            else _np(b)
        np.testing.assert_array_equal(_np(a).astype(bb.dtype), bb, err_msg=path)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        assert isinstance(a, collections.OrderedDict) == isinstance(b, collections.OrderedDict), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)) and type(a).__name__ != "Size":
        assert type(a) is type(b) and len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{k}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert type(a).__name__ == type(b).__name__ and str(a).split(".")[-1] == str(b).split(".")[-1], path
        if isinstance(a, (int, float, str, bytes, complex, set, np.generic)) or a is None:
            assert a == b, path


def _gpt_pair():
    """The same tiny model + AdamW state in tensorstein and torch (weights copied, one step taken)."""
    ts.manual_seed(0)
    m = ts.nn.Sequential(ts.nn.Embedding(11, 8), ts.nn.LayerNorm(8), ts.nn.Linear(8, 11))
    tm = torch.nn.Sequential(torch.nn.Embedding(11, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 11))
    tm.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in m.state_dict().items()})
    opt, topt = ts.optim.AdamW(m.parameters(), lr=1e-2), torch.optim.AdamW(tm.parameters(), lr=1e-2)
    idx = [[1, 2, 3], [4, 5, 6]]
    for model, o, lib in ((m, opt, ts), (tm, topt, torch)):
        model(lib.tensor(idx)).pow(2).mean().backward()
        o.step()
    config = {"n_layer": 1, "n_embd": 8, "bias": True, "dropout": 0.0, "name": "gpt"}
    return ({"model": m.state_dict(), "optimizer": opt.state_dict(), "iter_num": 5, "config": config},
            {"model": tm.state_dict(), "optimizer": topt.state_dict(), "iter_num": 5, "config": config}, m, tm)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ".ckpt"])
def test_gpt_checkpoint_tensorstein_to_torch(tmp_path, suffix):
    ck, _, _, _ = _gpt_pair()
    p = tmp_path / f"ckpt{suffix}"
    ts.save(ck, p)
    ref = torch.load(p, weights_only=True)  # torch's zip format, whatever the suffix
    assert ref["iter_num"] == 5 and ref["config"] == ck["config"]
    for k, v in ck["model"].items():
        np.testing.assert_array_equal(ref["model"][k].numpy(), v.numpy())
    st, tst = ck["optimizer"]["state"], ref["optimizer"]["state"]
    assert sorted(st) == sorted(tst)
    for k in st:
        for name, v in st[k].items():
            assert tuple(tst[k][name].shape) == tuple(v.shape), name  # 0-d 'step' stays 0-d
            np.testing.assert_array_equal(tst[k][name].numpy(), v.numpy())
    # torch resumes from it: the optimizer state loads into torch's AdamW
    tm = torch.nn.Sequential(torch.nn.Embedding(11, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 11))
    tm.load_state_dict(ref["model"])
    torch.optim.AdamW(tm.parameters(), lr=1e-2).load_state_dict(ref["optimizer"])


def test_gpt_checkpoint_torch_to_tensorstein_and_resume(tmp_path):
    _, tck, _, tm = _gpt_pair()
    p = tmp_path / "ckpt.pt"
    torch.save(tck, p)
    back = ts.load(p)
    _assert_same(back, tck)
    # resume: a fresh tensorstein model + optimizer continue exactly like the original
    m2 = ts.nn.Sequential(ts.nn.Embedding(11, 8), ts.nn.LayerNorm(8), ts.nn.Linear(8, 11))
    m2.load_state_dict(back["model"])
    opt2 = ts.optim.AdamW(m2.parameters(), lr=1e-2)
    opt2.load_state_dict(back["optimizer"])
    topt = torch.optim.AdamW(tm.parameters(), lr=1e-2)
    topt.load_state_dict(tck["optimizer"])
    for model, o, lib in ((m2, opt2, ts), (tm, topt, torch)):
        o.zero_grad()
        model(lib.tensor([[1, 2, 3]])).pow(2).mean().backward()
        o.step()
    for (k, v), tv in zip(m2.state_dict().items(), tm.state_dict().values()):
        np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def _all_types():
    base = ts.arange(12.0).reshape(3, 4)
    return {
        "scalar": ts.tensor(3.5), "int": ts.tensor(7), "empty": ts.zeros(0, 3), "bf16": ts.ones(2).to(ts.bfloat16),
        "view": base.t(), "param": ts.nn.Parameter(ts.ones(2)), "grad": ts.ones(2, requires_grad=True),
        "shape": base.shape, "dtype": ts.float16, "device": ts.device("cpu"),
        "np": np.arange(6, dtype=np.int32).reshape(2, 3), "np0": np.array(1.5), "npf": np.float32(0.25),
        "npi": np.int64(-3), "npb": np.bool_(True),
        "od": collections.OrderedDict(b=1, a=[1, 2]), "list": [None, "s", b"bytes", 1, 2.5, True, 1 + 2j],
        "tuple": (1, (2, 3)), "set": {1, 2}, "nested": {"a": {"b": {"c": [base]}}},
    }


def test_every_saved_type_loads_back(tmp_path):
    obj = _all_types()
    p = tmp_path / "all.pt"
    ts.save(obj, p)
    back = ts.load(p)
    _assert_same(back, obj)
    assert back["shape"] == ts.Size([3, 4]) and type(back["shape"]).__name__ == "Size"
    assert back["dtype"] is ts.float16 and back["device"] == ts.device("cpu")
    assert isinstance(back["npf"], np.float32) and isinstance(back["npb"], np.bool_)
    import numpy as _numpy

    safe = [_numpy._core.multiarray._reconstruct, _numpy.ndarray, _numpy.dtype, _numpy._core.multiarray.scalar,
            type(_numpy.dtype("f8")), type(_numpy.dtype("f4")), type(_numpy.dtype("i4")), type(_numpy.dtype("i8")),
            type(_numpy.dtype("?"))]
    with torch.serialization.safe_globals(safe):
        ref = torch.load(p, weights_only=True)
    assert ref["shape"] == torch.Size([3, 4]) and ref["dtype"] is torch.float16 and ref["device"] == torch.device("cpu")
    assert tuple(ref["scalar"].shape) == () and ref["scalar"].item() == 3.5
    assert isinstance(ref["param"], torch.nn.Parameter) and ref["grad"].requires_grad
    np.testing.assert_array_equal(ref["np"], obj["np"])
    assert ref["npf"] == obj["npf"] and ref["list"] == obj["list"] and ref["set"] == obj["set"]


def test_torch_objects_load_as_tensorstein_objects(tmp_path):
    p = tmp_path / "t.pt"
    base = torch.arange(12.0).reshape(3, 4)
    obj = {"s": base.shape, "d": torch.int64, "dev": torch.device("cpu"), "p": torch.nn.Parameter(torch.ones(2)),
           "v": base[1:, 1:3], "b": base, "z": torch.tensor(2), "l": [torch.zeros(())], "set": {3}}
    torch.save(obj, p)
    back = ts.load(p)
    _assert_same(back, obj)
    assert back["s"] == ts.Size([3, 4]) and back["d"] is ts.int64 and back["dev"] == ts.device("cpu")
    assert np.shares_memory(back["v"].numpy(), back["b"].numpy())  # a view stays a view, as in torch


def test_save_refuses_what_load_cannot_read(tmp_path):
    class Custom:
        pass

    p = tmp_path / "x.pt"
    for bad in (Custom(), {"f": len}, [np.array(["str"])], collections.defaultdict(int)):
        with pytest.raises(TypeError, match="cannot save"):
            ts.save(bad, p)
    assert not os.listdir(tmp_path)
    with pytest.raises(TypeError, match="flat dict"):
        ts.save({"a": {"b": ts.ones(1)}}, tmp_path / "x.safetensors")


def test_safetensors_keeps_0d_and_shapes(tmp_path):
    p = tmp_path / "w.safetensors"
    state = {"s": ts.tensor(2.0), "m": ts.ones(2, 3), "e": ts.zeros(0)}
    ts.save(state, p)
    from safetensors.torch import load_file

    ref = load_file(str(p))
    assert {k: tuple(v.shape) for k, v in ref.items()} == {"s": (), "m": (2, 3), "e": (0,)}
    assert {k: tuple(v.shape) for k, v in ts.load(p).items()} == {"s": (), "m": (2, 3), "e": (0,)}


# ------------------------------------------------------------------ atomic writes that behave like open()


def test_file_mode_follows_umask_and_existing_mode(tmp_path):
    old = os.umask(0o022)
    try:
        ts.save({"a": ts.ones(1)}, tmp_path / "a.pt")
        with open(tmp_path / "ref", "wb"):
            pass
        assert os.stat(tmp_path / "a.pt").st_mode & 0o777 == os.stat(tmp_path / "ref").st_mode & 0o777 == 0o644
        os.umask(0o077)
        ts.save({"a": ts.ones(1)}, tmp_path / "b.safetensors")
        assert os.stat(tmp_path / "b.safetensors").st_mode & 0o777 == 0o600
        os.chmod(tmp_path / "a.pt", 0o640)
        ts.save({"a": ts.zeros(1)}, tmp_path / "a.pt")  # overwriting keeps the file's mode
        assert os.stat(tmp_path / "a.pt").st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_symlink_is_written_through(tmp_path):
    real = tmp_path / "store" / "real.pt"
    real.parent.mkdir()
    ts.save({"a": ts.ones(1)}, real)
    link = tmp_path / "latest.pt"
    link.symlink_to(real)
    ts.save({"a": ts.full((2,), 7.0)}, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert ts.load(real)["a"].tolist() == [7.0, 7.0]


def test_errors_name_the_target_and_leave_nothing(tmp_path):
    d = tmp_path / "adir"
    d.mkdir()
    with pytest.raises(IsADirectoryError, match="adir"):
        ts.save({"a": ts.ones(1)}, d)
    with pytest.raises(FileNotFoundError, match="missing/x.pt"):
        ts.save({"a": ts.ones(1)}, tmp_path / "missing" / "x.pt")
    with pytest.raises(OSError, match="/dev/full") as info:
        ts.save({"a": ts.ones(1000)}, "/dev/full")
    assert "tmp" not in str(info.value)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match="file/x.pt"):  # a file used as a directory (root cannot bypass this)
        ts.save({"a": ts.ones(1)}, blocker / "x.pt")
    assert sorted(os.listdir(tmp_path)) == ["adir", "file"] and not os.listdir(d)


def test_killed_save_keeps_old_file_and_stale_temp_is_cleaned(tmp_path):
    p = tmp_path / "big.pt"
    ts.save({"a": ts.zeros(10)}, p)
    code = ("import tensorstein as ts, sys\nx = ts.ones(4_000_000)\nprint('go', flush=True)\n"
            "while True:\n    ts.save({'a': x}, sys.argv[1])\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(q for q in (SRC, os.environ.get("PYTHONPATH")) if q))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".big.pt.tmp-{dead.pid}-0000").write_bytes(b"half a file")  # left by a killed save
    for delay in (0.05, 0.2, 0.4):
        proc = subprocess.Popen([sys.executable, "-c", code, str(p)], stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline() == b"go\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = ts.load(p)["a"]  # the old or the new file, never a torn one
        assert tuple(loaded.shape) in ((10,), (4_000_000,))
    ts.save({"a": ts.zeros(3)}, p)
    assert os.listdir(tmp_path) == ["big.pt"]  # temp files of killed saves are gone
    os.symlink("x", tmp_path / f".big.pt.tmp-{os.getppid()}-live")  # a live process's temp file stays
    ts.save({"a": ts.zeros(3)}, p)
    assert f".big.pt.tmp-{os.getppid()}-live" in os.listdir(tmp_path)


def test_load_errors_are_checkpoint_errors(tmp_path):
    p = tmp_path / "bad.pt"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="bad.pt") as info:
        ts.load(p)
    assert isinstance(info.value, RuntimeError)
