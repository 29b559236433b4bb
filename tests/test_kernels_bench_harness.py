"""The benchmark harness's pure parts: the child environment, the statistic, the
BENCHMARKS.md section merge and its atomic write (benchmarks are not run here)."""

import os
import sys
import types

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)
harness = pytest.importorskip("harness")
run_all = pytest.importorskip("run_all")


def test_child_env_drops_openblas_overrides_only(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "512")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    env = harness.child_env()
    assert "OPENBLAS_CORETYPE" not in env and "OPENBLAS_L2_SIZE" not in env
    assert env["OPENBLAS_NUM_THREADS"] == "2"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == os.path.join(harness.ROOT, "src")
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"  # the parent's own env is untouched


def test_every_registered_suite_has_its_file_or_is_skipped():
    for name, module in harness.SUITES.items():
        path = os.path.join(BENCH, module + ".py")
        if os.path.exists(path):
            src = open(path).read()
            for attr in ("TITLE", "LIBRARIES", "def cases("):
                assert attr in src, (name, attr)


def test_time_case_median_and_min():
    calls = []
    case = harness.Case("x", lambda: calls.append(1), number=3, repeats=5, warmup=2)
    r = harness._time_case(case, 7)
    assert len(calls) == 2 + 5 * 3 and len(r["samples"]) == 5
    seq = iter([0.5, 0.1, 0.3])
    r = harness._time_case(harness.Case("y", lambda: next(seq), self_timed=True, repeats=3,
                                        warmup=0), 7)
    assert harness._stat(r) == (0.3, 0.1)


def test_format_shows_ratio_against_torch_median():
    mod = types.SimpleNamespace()
    raw = {lib: {"info": {"blas": []}, "results": {"c": {
        "name": "c", "samples": s, "work": 2e9, "unit": "GFLOP/s", "scale": 1e-9, "extra": {}}}}
        for lib, s in (("torch", [2.0, 4.0, 3.0]), ("tensorstein", [1.0, 1.5, 9.0]))}
    text = harness.format_results(mod, raw)
    row = [ln for ln in text.splitlines() if ln.startswith("c ") and "tensorstein" in ln][0]
    assert "2.00x" in row and "1.500 s" in row and "1.000 s" in row and "1.3 GFLOP/s" in row


def test_merge_replaces_only_the_named_section(tmp_path):
    def sec(name, body):
        return f"<!-- suite:{name} -->\n## {name}\n\n{body}\n<!-- /suite:{name} -->\n"

    old = "# old head\n\n" + sec("core", "core v1") + "\n" + sec("attention", "attn v1")
    new = run_all.merge(old, "# head\n\n", {"attention": sec("attention", "attn v2"),
                                             "training": sec("training", "train v1")})
    assert new.startswith("# head\n\n")
    assert "core v1" in new and "attn v2" in new and "attn v1" not in new and "train v1" in new
    assert new.index("core v1") < new.index("train v1") < new.index("attn v2")  # registry order
    out = tmp_path / "B.md"
    run_all.write_atomic(str(out), new)
    assert out.read_text() == new
    assert os.listdir(tmp_path) == ["B.md"]  # no temporary file left behind
