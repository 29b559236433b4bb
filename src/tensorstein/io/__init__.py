"""File formats: safetensors, PyTorch checkpoints, Hugging Face configs."""

from ._config import ConfigError, load_config, load_json
from ._safetensors import SafetensorsError, load_file, read_metadata, save_file
from ._torch_pickle import TorchCheckpointError, load_state_dict, load_torch_file


def __getattr__(name):  # save/load need the Tensor class: import them lazily
    if name in ("save", "load"):
        from . import _serialization

        return getattr(_serialization, name)
    raise AttributeError(f"module 'tensorstein.io' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "SafetensorsError",
    "TorchCheckpointError",
    "load_config",
    "load_file",
    "load_json",
    "load_state_dict",
    "load_torch_file",
    "read_metadata",
    "save_file",
    "save",
    "load",
]
