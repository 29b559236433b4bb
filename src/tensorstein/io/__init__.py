"""File formats: safetensors, PyTorch checkpoints, Hugging Face configs.

Malformed checkpoints raise :class:`CheckpointError` (a ``RuntimeError``; :class:`SafetensorsError` and
``TorchCheckpointError`` are the same family); files asking for code raise :class:`UnsafeCheckpointError`,
also a ``pickle.UnpicklingError``.
"""

from ._config import ConfigError, load_config, load_json
from ._errors import CheckpointError, UnsafeCheckpointError
from ._safetensors import SafetensorsError, load_file, read_metadata, save_file
from ._torch_pickle import TorchCheckpointError, load_state_dict, load_torch_file


def __getattr__(name):  # save/load need the Tensor class: import them lazily
    if name in ("save", "load"):
        from . import _serialization

        return getattr(_serialization, name)
    raise AttributeError(f"module 'tensorstein.io' has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "ConfigError",
    "SafetensorsError",
    "TorchCheckpointError",
    "UnsafeCheckpointError",
    "load",
    "load_config",
    "load_file",
    "load_json",
    "load_state_dict",
    "load_torch_file",
    "read_metadata",
    "save",
    "save_file",
]
