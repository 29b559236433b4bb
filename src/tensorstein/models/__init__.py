"""Real Transformers on tensorstein: BERT, sentence embeddings, a tiny GPT.

Submodules are imported lazily so that the file readers (``_st_files``,
``_tokenizer``) stay usable without building the model classes.
"""

from __future__ import annotations

import importlib

__all__ = [
    "BertConfig",
    "BertModel",
    "SentenceTransformer",
    "GPTConfig",
    "GPT",
    "Tokenizer",
    "default_model_dir",
]

_LAZY = {
    "BertConfig": ".bert",
    "BertModel": ".bert",
    "SentenceTransformer": ".sentence_transformer",
    "GPTConfig": ".gpt",
    "GPT": ".gpt",
    "Tokenizer": "._tokenizer",
    "default_model_dir": "._st_files",
}


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'tensorstein.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
