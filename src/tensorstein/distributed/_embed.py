"""Corpus embedding over ranks: ``tensorstein run --nproc-per-node N -m tensorstein embed --file F``.

``SentenceTransformer.encode`` sorts the texts longest first and embeds them in batches. Here every rank
computes that same global order and batching, takes every N-th batch (so the long batches are shared out),
and embeds exactly those batches; rank 0 gathers the rows and puts them back in input order. Each batch
holds the same texts with the same padding as in one process, so the output is identical to one process's.

>>> encode_over_ranks  # doctest: +ELLIPSIS
<function encode_over_ranks at ...>
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["encode_over_ranks"]


def encode_over_ranks(model, texts: list, batch_size: int, show_progress: bool = False):
    """``model.encode(texts)`` shared out over the ranks of the job; the ``(n, dim)`` array on rank 0 and
    None on the others (one process: just ``model.encode``)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return model.encode(texts, batch_size=batch_size, show_progress_bar=show_progress)
    from ._group import _State, init_process_group

    if _State.world is None:
        init_process_group("mpi")
    g = _State.world
    rank, size = g.rank(), g.size()
    mine = _my_indices(model, texts, batch_size, rank, size)  # global indices, in this rank's encode order
    rows = np.ascontiguousarray(model.encode([texts[i] for i in mine], batch_size=batch_size,
                                             show_progress_bar=show_progress and rank == 0))  # (n_r, dim)
    every = g.comm.gather(mine, 0)
    counts = g.comm.gather(rows.size, 0)
    if rank != 0:
        g.comm.Gatherv(rows, None, 0)
        return None
    gathered = np.empty((len(texts),) + rows.shape[1:], rows.dtype)  # (n, dim), rank order
    g.comm.Gatherv(rows, [gathered, (counts, np.cumsum([0] + counts[:-1]).tolist())], 0)
    out = np.empty_like(gathered)
    out[np.concatenate([np.asarray(m, dtype=np.int64) for m in every])] = gathered
    return out


def _my_indices(model, texts, batch_size, rank, size) -> list:
    """The texts of batches rank, rank + size, ... of the one-process order (longest first, stable)."""
    tok = getattr(model, "tokenizer", None)
    if hasattr(tok, "encode_ragged"):
        encoded = tok.encode_ragged(texts, max_length=model.max_seq_length)
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i][0]))
    else:
        order = list(range(len(texts)))
    batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    return [i for b in batches[rank::size] for i in b]
