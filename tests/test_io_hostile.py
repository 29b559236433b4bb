"""Hostile checkpoints: each is loaded in its own (forked) subprocess under a memory limit (200 MB above the
interpreter's baseline address space) and a 1 s budget for ``load`` itself. Each must either be rejected with the
documented error (:class:`tensorstein.io.CheckpointError`, naming the file) or load exactly as torch / the safetensors
library loads it. The files are built here from pickle opcodes and zipfile.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "src")

# ---------------------------------------------------------------- pickle opcodes (protocol 2)
PROTO, STOP, MARK, TUPLE, REDUCE, BUILD = b"\x80\x02", b".", b"(", b"t", b"R", b"b"


def g(mod, name):
    return b"c" + f"{mod}\n{name}\n".encode()


def i(n):
    if -(2**31) <= n < 2**31 and not isinstance(n, bool):
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw if len(raw) < 256 else b"\x8b" + struct.pack("<i", len(raw)) + raw


def s(text):
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def f(x):
    return b"G" + struct.pack(">d", x)


def T(*parts):
    return MARK + b"".join(parts) + TUPLE


def L(*parts):
    return b"]" + (MARK + b"".join(parts) + b"e" if parts else b"")  # EMPTY_LIST, APPENDS (torch has no LIST)


def D(*parts):
    return b"}" + (MARK + b"".join(parts) + b"u" if parts else b"")  # EMPTY_DICT, SETITEMS (torch has no DICT)


TRUE, FALSE, NONE = b"\x88", b"\x89", b"N"
OD = g("collections", "OrderedDict") + b")" + REDUCE


def pid(key="0", numel=16, storage="FloatStorage", legacy=False):
    parts = [s("storage"), g("torch", storage), s(key), s("cpu"), i(numel) if isinstance(numel, int) else numel]
    return T(*(parts + ([NONE] if legacy else []))) + b"Q"


ZERO = i(0)


def tensor(storage, offset=ZERO, size=(4,), stride=(1,), requires_grad=FALSE):
    def seq(xs):
        return xs if isinstance(xs, bytes) else T(*(i(x) for x in xs))
    return g("torch._utils", "_rebuild_tensor_v2") + T(storage, offset, seq(size), seq(stride), requires_grad, OD) \
        + REDUCE


def floats(n, start=0.0):
    return np.arange(start, start + n, dtype=np.float32).tobytes()


def write_zip(path, entries, compress=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of some cases
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in entries:
                if isinstance(data, tuple):  # (bytes, compress_type)
                    zf.writestr(name, data[0], compress_type=data[1])
                else:
                    zf.writestr(name, data, compress_type=compress)
    return path


def torch_zip(pickle_body, storages=None, extra=(), byteorder="little"):
    entries = [("archive/data.pkl", PROTO + pickle_body + STOP)]
    if byteorder is not None:
        entries.append(("archive/byteorder", byteorder.encode() if isinstance(byteorder, str) else byteorder))
    entries += [(f"archive/data/{k}", v) for k, v in (storages or {"0": floats(16)}).items()]
    entries += list(extra) + [("archive/version", b"3\n")]
    return lambda p: write_zip(p, entries)


def legacy(pickle_body, storages=None, keys=None, numel_header=None):
    storages = storages if storages is not None else {"0": floats(16)}
    keys = list(storages) if keys is None else keys

    def build(p):
        import pickle

        head = b"".join(pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001,
                                                              {"protocol_version": 1001, "little_endian": True}))
        out = head + PROTO + pickle_body + STOP + pickle.dumps(keys, protocol=2)
        for raw in storages.values():
            n = numel_header if numel_header is not None else len(raw) // 4
            out += struct.pack("<q", n) + raw
        p.write_bytes(out)
        return p
    return build


def memo_levels(levels):  # x0 = []; x_{k+1} = [x_k, x_k]: 2^levels leaves, a few bytes each level
    body = b"]"  # EMPTY_LIST
    for _ in range(levels):
        body += b"q\x00" + b"]" + MARK + b"h\x00h\x00" + b"e"  # BINPUT 0, EMPTY_LIST, MARK, GET 0 x2, APPENDS
    # (torch's unpickler has no POP: the previous level stays on the stack; STOP returns the top)
    return body


def memo_tuple(levels):
    body = b")"  # EMPTY_TUPLE
    for _ in range(levels):
        body += b"q\x000h\x00h\x00\x86"  # BINPUT 0, POP, GET 0, GET 0, TUPLE2
    return body


def nested_lists(depth):
    return b"]" + (b"]" * (depth - 1)) + (b"a" * (depth - 1))  # EMPTY_LIST xN, APPEND xN-1


def deflated_zeros(nbytes):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(2**20)
    out = [c.compress(chunk) for _ in range(nbytes // 2**20)]
    return b"".join(out) + c.flush()


def zip_bomb(declared_numel):
    """A 300 MB zero storage deflated to ~300 KB, its record declaring ``declared_numel`` floats."""
    def build(p):
        body = PROTO + D(s("w"), tensor(pid(numel=declared_numel), size=(declared_numel,))) + STOP
        write_zip(p, [("archive/data.pkl", body), ("archive/byteorder", b"little")])
        raw = deflated_zeros(300 * 2**20)
        # splice a raw-deflate entry with honest sizes (zipfile would need 300 MB in memory to write it)
        with open(p, "r+b") as fh:
            data = fh.read()
            cd = data.rfind(b"PK\x05\x06")
            n_cd = struct.unpack("<H", data[cd + 10: cd + 12])[0]
            cd_start = struct.unpack("<I", data[cd + 16: cd + 20])[0]
            name = b"archive/data/0"
            crc = zlib.crc32(bytes(300 * 2**20))
            local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(raw), 300 * 2**20,
                                len(name), 0) + name
            central = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(raw), 300 * 2**20,
                                  len(name), 0, 0, 0, 0, 0, cd_start) + name
            new_cd = data[cd_start:cd] + central
            end = data[cd: cd + 22]
            end = end[:8] + struct.pack("<2H2I", n_cd + 1, n_cd + 1, len(new_cd), cd_start + len(local) + len(raw)) \
                + end[20:]
            fh.seek(0)
            fh.write(data[:cd_start] + local + raw + new_cd + end)
        return p
    return build


# ---------------------------------------------------------------- cases: (id, builder, expect)
W = s("w")
ZIP_CASES = [
    ("zero_stride_view_23170x23170", torch_zip(D(W, tensor(pid(), size=(23170, 23170), stride=(0, 0)))), "load"),
    ("one_storage_30_views", torch_zip(L(*[tensor(pid(numel=2**22), offset=i(k * 50), size=(2**11 - 1, 2**11),
                                                  stride=(2**11, 1)) for k in range(30)]),
                                       {"0": (bytes(2**24), zipfile.ZIP_DEFLATED)}), "load"),  # 30 copies: 480 MB
    ("memo_shared_40_levels", torch_zip(memo_levels(40)), "load"),
    ("device_of_memo_structure", torch_zip(memo_levels(40) + b"q\x01" + g("torch", "device") + b"h\x01\x85" + REDUCE),
     "reject"),
    ("size_of_floats", torch_zip(g("torch", "Size") + T(L(f(1.5))) + REDUCE), "reject"),
    ("dict_key_memo_tuple", torch_zip(b"}" + memo_tuple(40) + i(1) + b"s"), "reject"),
    ("set_of_memo_tuple", torch_zip(g("builtins", "set") + T(L(memo_tuple(40))) + REDUCE), "reject"),
    ("nested_100k_lists", torch_zip(nested_lists(100_000)), "load"),
    ("deep_tuple_key", torch_zip(b"}" + b")" + (b"\x85" * 100_000) + i(1) + b"s"), "reject"),
    ("build_plants_setstate", torch_zip(OD + b"q\x09" + b"}" + s("__setstate__") + g("torch", "device") + b"s" + BUILD
                                        + b"}" + BUILD), "reject"),
    ("build_shadows_method", torch_zip(OD + b"}" + s("keys") + i(1) + b"s" + BUILD), "reject"),
    ("rebuild_v3_untyped_storage", torch_zip(D(W, g("torch._utils", "_rebuild_tensor_v3")
                                               + T(pid(numel=64, storage="ByteStorage"), i(2), T(i(3), i(2)),
                                                   T(i(1), i(4)), FALSE, OD, g("torch", "float32")) + REDUCE)), "load"),
    ("build_on_function", torch_zip(g("torch._utils", "_rebuild_tensor_v2") + b"}" + BUILD), "reject"),
    ("build_on_list", torch_zip(b"]" + b"}" + s("x") + i(1) + b"s" + BUILD), "reject"),
    ("newobj_ordereddict", torch_zip(g("collections", "OrderedDict") + b")\x81"), "reject"),
    ("global_os_system", torch_zip(g("os", "system") + T(s("true")) + REDUCE), "reject"),
    ("global_getattr", torch_zip(g("builtins", "getattr")), "reject"),
    ("global_numpy_load", torch_zip(g("numpy", "load")), "reject"),
    ("reduce_storage_type", torch_zip(g("torch", "FloatStorage") + T() + REDUCE), "reject"),
    ("from_type_calls_set", torch_zip(g("torch._tensor", "_rebuild_from_type_v2")
                                      + T(g("builtins", "set"), g("torch", "Tensor"), T(L(i(1))), b"}") + REDUCE),
     "reject"),
    ("numpy_object_dtype", torch_zip(g("numpy", "dtype") + T(s("O8"), FALSE, TRUE) + REDUCE), "reject"),
    ("codecs_non_latin1", torch_zip(g("_codecs", "encode") + T(s("\u20ac"), s("latin1")) + REDUCE), "reject"),
    ("zip_bomb_declared_small", zip_bomb(16), "reject"),
    ("zip_bomb_declared_300mb", zip_bomb(75 * 2**20), "reject"),
    ("duplicate_data_pkl", lambda p: write_zip(p, [("archive/data.pkl", PROTO + D(W, tensor(pid())) + STOP),
                                                   ("archive/data.pkl", PROTO + i(1) + STOP),
                                                   ("archive/data/0", floats(16))]), "reject"),
    ("duplicate_storage", torch_zip(D(W, tensor(pid())), extra=[("archive/data/0", floats(16, 100.0))]), "reject"),
    ("negative_offset", torch_zip(D(W, tensor(pid(), offset=i(-1)))), "reject"),
    ("float_offset", torch_zip(D(W, tensor(pid(), offset=f(1.0)))), "reject"),
    ("bool_size", torch_zip(D(W, tensor(pid(), size=T(TRUE), stride=(1,)))), "reject"),
    ("float_size", torch_zip(D(W, tensor(pid(), size=T(f(4.0)), stride=(1,)))), "reject"),
    ("negative_stride", torch_zip(D(W, tensor(pid(), offset=i(15), size=(4,), stride=(-1,)))), "reject"),
    ("size_stride_rank_mismatch", torch_zip(D(W, tensor(pid(), size=(4, 4), stride=(1,)))), "reject"),
    ("view_past_storage", torch_zip(D(W, tensor(pid(), size=(17,)))), "reject"),
    ("numel_overflows_int64", torch_zip(D(W, tensor(pid(), size=(2**62, 2**62), stride=(0, 0)))), "reject"),
    ("storage_longer_than_numel", torch_zip(D(W, tensor(pid())), {"0": floats(17)}), "reject"),
    ("storage_shorter_than_numel", torch_zip(D(W, tensor(pid())), {"0": floats(15)}), "reject"),
    ("storage_numel_float", torch_zip(D(W, tensor(pid(numel=f(16.0))))), "reject"),
    ("storage_numel_huge", torch_zip(D(W, tensor(pid(numel=2**70)))), "reject"),
    ("storage_record_missing", torch_zip(D(W, tensor(pid(key="7")))), "reject"),
    ("garbage_byteorder", torch_zip(D(W, tensor(pid())), byteorder="middle"), "reject"),
    ("big_endian", torch_zip(D(W, tensor(pid())), {"0": np.arange(16, dtype=">f4").tobytes()}, byteorder="big"),
     "load"),
    ("no_byteorder", torch_zip(D(W, tensor(pid())), byteorder=None), "load"),
    ("storage_is_a_list", torch_zip(D(W, tensor(L(i(1))))), "reject"),
    ("persistent_id_not_tuple", torch_zip(s("x") + b"Q"), "reject"),
    ("persistent_id_list_type", torch_zip(T(s("storage"), L(), s("0"), s("cpu"), i(4)) + b"Q"), "reject"),
    ("huge_text_long", torch_zip(b"L" + b"9" * 100_000 + b"L\n"), "reject"),
    ("binunicode8_huge_length", torch_zip(b"\x8d" + struct.pack("<Q", 2**62) + b"abc"), "reject"),
    ("unknown_opcode", torch_zip(b"\xff"), "reject"),
    ("reduce_on_empty_stack", torch_zip(REDUCE), "reject"),
    ("memo_get_missing", torch_zip(b"h\x05"), "reject"),
    ("truncated_pickle", lambda p: write_zip(p, [("archive/data.pkl", PROTO + D(W, tensor(pid()))[:-5]),
                                                 ("archive/data/0", floats(16))]), "reject"),
    ("set_with_list_item", torch_zip(g("builtins", "set") + T(L(L())) + REDUCE), "reject"),
    ("ordered_dict_bad_pairs", torch_zip(g("collections", "OrderedDict") + T(L(i(1))) + REDUCE), "reject"),
    ("hooks_not_empty", torch_zip(g("torch._utils", "_rebuild_tensor_v2") + T(pid(), i(0), T(i(4)), T(i(1)), FALSE,
                                  D(i(1), g("torch", "device"))) + REDUCE), "reject"),
    ("empty_file", lambda p: (p.write_bytes(b""), p)[1], "reject"),
    ("junk", lambda p: (p.write_bytes(b"\x00junk" * 50), p)[1], "reject"),
    ("truncated_zip", lambda p: (torch_zip(D(W, tensor(pid())))(p), p.write_bytes(p.read_bytes()[:-30]), p)[2],
     "reject"),
    ("plain_state_dict_with_shared_views", torch_zip(D(s("a"), tensor(pid(), size=(4, 4), stride=(4, 1)),
                                                     s("b"), tensor(pid(), offset=i(2), size=(2, 3), stride=(1, 4)),
                                                     s("c"), tensor(pid(), offset=i(5), size=(), stride=()))), "load"),
]
LEGACY_CASES = [
    ("legacy_zero_stride_view", legacy(D(W, tensor(pid(legacy=True), size=(23170, 23170), stride=(0, 0)))), "load"),
    ("legacy_memo_40_levels", legacy(memo_levels(40), storages={}), "load"),
    ("legacy_numel_header_mismatch", legacy(D(W, tensor(pid(legacy=True))), numel_header=17), "reject"),
    ("legacy_numel_header_huge", legacy(D(W, tensor(pid(legacy=True))), numel_header=2**60), "reject"),
    ("legacy_truncated_storage", legacy(D(W, tensor(pid(legacy=True))), storages={"0": floats(8)},
                                        numel_header=16), "reject"),
    ("legacy_keys_not_list", legacy(D(W, tensor(pid(legacy=True))), keys="0"), "reject"),
    ("legacy_key_never_referenced", legacy(D(W, tensor(pid(legacy=True))), storages={"0": floats(16),
                                                                                      "1": floats(16)}), "reject"),
    ("legacy_unsafe_global", legacy(g("posix", "system") + T(s("true")) + REDUCE), "reject"),
    ("legacy_negative_offset", legacy(D(W, tensor(pid(legacy=True), offset=i(-4)))), "reject"),
]

# One server process imports tensorstein once, then forks a fresh child per file: the child sets the memory
# limit, times ``tensorstein.load`` and writes one JSON line; the server reports how the child ended.
SERVER = r"""
import json, os, resource, signal, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import tensorstein, tensorstein.io
from tensorstein.io import CheckpointError
from _ckpt_summary import summarize

def vm_bytes():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmSize:"))

def child(path, w):
    limit = vm_bytes() + 200 * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    t0 = time.perf_counter()
    try:
        obj = tensorstein.load(path)
        dt = time.perf_counter() - t0
        out = {"ok": True, "seconds": dt, "summary": summarize(obj)}
    except CheckpointError as exc:
        out = {"ok": False, "documented": True, "seconds": time.perf_counter() - t0, "type": type(exc).__name__,
               "msg": str(exc)[:400]}
    except BaseException as exc:
        out = {"ok": False, "documented": False, "seconds": time.perf_counter() - t0, "type": type(exc).__name__,
               "msg": str(exc)[:400]}
    os.write(w, json.dumps(out).encode())

for line in sys.stdin:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            child(line.rstrip("\n"), w)
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 1 << 20)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks).decode()
    if not data:
        data = json.dumps({"ok": False, "documented": False, "seconds": 0.0, "type": "died",
                           "msg": f"child ended with status {status}"})
    print(data, flush=True)
"""


@pytest.fixture(scope="module")
def loader():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", SERVER, HERE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)

    def run(path):
        proc.stdin.write(f"{path}\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line, "the loader server died"
        return json.loads(line)

    yield run
    proc.stdin.close()
    proc.wait(timeout=60)


def check(res, path, expect, reference):
    assert res["seconds"] < 1.0, f"load took {res['seconds']:.2f} s"
    if expect == "reject":
        assert not res["ok"], "a hostile file was accepted"
        assert res["documented"], f"undocumented {res['type']}: {res['msg']}"
        assert path.name in res["msg"], res["msg"]
    else:
        assert res["ok"], f"{res['type']}: {res['msg']}"
        assert res["summary"] == reference()


def _torch_reference(path):
    torch = pytest.importorskip("torch")
    from _ckpt_summary import summarize

    return summarize(torch.load(path, weights_only=True))


@pytest.mark.parametrize("name, build, expect", ZIP_CASES + LEGACY_CASES, ids=[c[0] for c in ZIP_CASES + LEGACY_CASES])
def test_hostile_torch_checkpoint(tmp_path, loader, name, build, expect):
    path = build(tmp_path / f"{name}.pt")
    check(loader(path), path, expect, lambda: _torch_reference(path))


# ---------------------------------------------------------------- safetensors
def st(header, data=b"", raw=None):
    def build(p):
        hb = raw if raw is not None else json.dumps(header).encode()
        p.write_bytes(struct.pack("<Q", len(hb)) + hb + data)
        return p
    return build


def F32(shape, a, b):
    return {"dtype": "F32", "shape": shape, "data_offsets": [a, b]}


ST_CASES = [
    ("ok", st({"a": F32([2], 0, 8), "b": F32([], 8, 12)}, floats(3))),
    ("shape_overflows_u64", st({"a": F32([2**62 + 1, 4], 0, 16)}, bytes(16))),
    ("shape_overflows_int64_only", st({"a": {"dtype": "U8", "shape": [2**63 + 1], "data_offsets": [0, 16]}},
                                      bytes(16))),
    ("overlap", st({"a": F32([1], 0, 4), "b": F32([1], 0, 4)}, bytes(4))),
    ("gap", st({"a": F32([1], 4, 8)}, bytes(8))),
    ("duplicate_keys", st(None, bytes(12), raw=b'{"a":' + json.dumps(F32([1], 0, 4)).encode()
                          + b',"a":' + json.dumps(F32([3], 0, 12)).encode() + b"}")),
    ("unaligned", st({"a": {"dtype": "I8", "shape": [1], "data_offsets": [0, 1]}, "b": F32([1], 1, 5)},
                     b"\x07" + floats(1, 3.0))),
    ("false_offset", st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [False, 4]}}, bytes(4))),
    ("trailing_byte", st({"a": F32([1], 0, 4)}, bytes(5))),
    ("nested_json", st(None, raw=b'{"__metadata__":' + b"[" * 100_000 + b"]" * 100_000 + b"}")),
    ("ten_to_400", st(None, bytes(4), raw=b'{"a":{"dtype":"F32","shape":[1' + b"0" * 400
                      + b'],"data_offsets":[0,4]}}')),
    ("true_shape", st({"a": {"dtype": "F32", "shape": True, "data_offsets": [0, 4]}}, bytes(4))),
    ("negative_shape", st({"a": F32([-1], 0, 4)}, bytes(4))),
    ("header_length_huge", lambda p: (p.write_bytes(struct.pack("<Q", 2**63) + b"{}"), p)[1]),
    ("header_not_utf8", st(None, raw=b'{"\xff":1}')),
    ("metadata_not_str", st({"__metadata__": {"k": 1}})),
    ("unknown_dtype", st({"a": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}, bytes(4))),
    ("empty_header", st({})),
    ("too_short", lambda p: (p.write_bytes(b"\x01\x00"), p)[1]),
]


@pytest.mark.parametrize("name, build", ST_CASES, ids=[c[0] for c in ST_CASES])
def test_hostile_safetensors(tmp_path, loader, name, build):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    from _ckpt_summary import summarize

    path = build(tmp_path / f"{name}.safetensors")
    try:
        ref = summarize(safetensors_torch.load_file(str(path)))
        expect = "load"
    except Exception:  # the reference library rejects the file: so must we
        ref, expect = None, "reject"
    check(loader(path), path, expect, lambda: ref)


def test_ok_cases_really_load():
    """The cases expected to load are a real part of the suite (not all rejects)."""
    assert sum(c[2] == "load" for c in ZIP_CASES + LEGACY_CASES) >= 7
