"""A thin NumPy front end over the Rust ``tokenizers`` library.

Mirrors what sentence-transformers does with a BERT fast tokenizer:
``tokenizer(texts, padding=True, truncation="longest_first",
max_length=max_seq_length)``: every text gets ``[CLS] ... [SEP]``, is cut to
``max_length`` tokens (special tokens included) and the batch is padded on
the right to its longest member.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ..io._config import load_json

__all__ = ["Tokenizer"]


class Tokenizer:
    """Wraps ``tokenizers.Tokenizer`` and returns int64 NumPy arrays."""

    def __init__(self, backend, max_length: int | None = None, pad_token: str | None = None,
                 do_lower_case: bool = False):
        self.backend = backend
        self.do_lower_case = do_lower_case
        pad_id = None
        padding = backend.padding
        if pad_token is not None:
            pad_id = backend.token_to_id(pad_token)
        if pad_id is None and padding is not None:
            pad_id, pad_token = padding.get("pad_id"), padding.get("pad_token")
        if pad_id is None:
            for cand in ("[PAD]", "<pad>", "<|pad|>"):
                if backend.token_to_id(cand) is not None:
                    pad_id, pad_token = backend.token_to_id(cand), cand
                    break
        self.pad_token = pad_token if pad_token is not None else "[PAD]"
        self.pad_id = int(pad_id) if pad_id is not None else 0
        if max_length is None:
            trunc = backend.truncation
            max_length = trunc["max_length"] if trunc else None
        self.max_length = max_length
        # The file's own padding/truncation settings (e.g. "pad everything to
        # 128") are replaced by per-call settings in encode_batch.
        backend.no_padding()
        backend.no_truncation()

    @classmethod
    def from_file(cls, path: str | os.PathLike, max_length: int | None = None, **kwargs) -> "Tokenizer":
        """Load a ``tokenizer.json`` file."""
        from tokenizers import Tokenizer as _RustTokenizer

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: tokenizer file (tokenizer.json) not found")
        try:
            backend = _RustTokenizer.from_file(path)
        except Exception as exc:  # the Rust side raises plain Exception
            raise ValueError(f"{path}: cannot parse tokenizer file: {exc}") from None
        return cls(backend, max_length=max_length, **kwargs)

    @classmethod
    def from_pretrained(cls, model_dir: str | os.PathLike, max_length: int | None = None) -> "Tokenizer":
        """Load ``tokenizer.json`` plus ``tokenizer_config.json`` from a model directory.

        ``max_length`` defaults to the tokenizer config's ``model_max_length``.
        """
        model_dir = os.fspath(model_dir)
        cfg_path = os.path.join(model_dir, "tokenizer_config.json")
        cfg = load_json(cfg_path, "tokenizer config") if os.path.isfile(cfg_path) else {}
        if max_length is None:
            mml = cfg.get("model_max_length")
            if isinstance(mml, int) and 0 < mml < 1_000_000:
                max_length = mml
        pad = cfg.get("pad_token")
        if isinstance(pad, dict):
            pad = pad.get("content")
        return cls.from_file(os.path.join(model_dir, "tokenizer.json"), max_length=max_length, pad_token=pad)

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def encode_batch(
        self, texts: Sequence[str], max_length: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tokenize ``texts``; return ``(input_ids, attention_mask, token_type_ids)``.

        Each is an int64 array of shape ``(batch, longest)``; texts longer than
        ``max_length`` tokens (special tokens included) are truncated.
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = [str(t) for t in texts]
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        max_length = self.max_length if max_length is None else max_length
        if max_length is not None:
            self.backend.enable_truncation(max_length=int(max_length), strategy="longest_first")
        else:
            self.backend.no_truncation()
        self.backend.enable_padding(direction="right", pad_id=self.pad_id, pad_token=self.pad_token)
        if not texts:
            empty = np.zeros((0, 0), dtype=np.int64)
            return empty, empty.copy(), empty.copy()
        encs = self.backend.encode_batch(texts)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        types = np.array([e.type_ids for e in encs], dtype=np.int64)
        return ids, mask, types

    def encode_ragged(self, texts: Sequence[str], max_length: int | None = None) -> list[tuple[list[int], list[int]]]:
        """Tokenize without padding: ``[(ids, type_ids), ...]``, truncated to ``max_length``.

        Use :meth:`pad` to build padded batches from any subset (e.g. after
        sorting by length), so each text is tokenized exactly once.
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = [str(t) for t in texts]
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        max_length = self.max_length if max_length is None else max_length
        self.backend.no_padding()
        if max_length is not None:
            self.backend.enable_truncation(max_length=int(max_length), strategy="longest_first")
        else:
            self.backend.no_truncation()
        return [(e.ids, e.type_ids) for e in self.backend.encode_batch(texts)] if texts else []

    def pad(self, items: Sequence[tuple[list[int], list[int]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Right-pad ragged ``(ids, type_ids)`` pairs to the longest.

        Returns ``(input_ids, attention_mask, token_type_ids)``."""
        n = len(items)
        width = max((len(i) for i, _ in items), default=0)
        ids = np.full((n, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        types = np.zeros((n, width), dtype=np.int64)
        for r, (i, t) in enumerate(items):
            ids[r, : len(i)] = i
            mask[r, : len(i)] = 1
            types[r, : len(t)] = t
        return ids, mask, types

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens each text would get (before truncation), cheap to compute."""
        self.backend.no_padding()
        self.backend.no_truncation()
        return [len(e.ids) for e in self.backend.encode_batch([str(t) for t in texts], add_special_tokens=True)]
