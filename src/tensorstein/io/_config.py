"""Reading Hugging Face style JSON configuration files (``config.json`` & co.)."""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["ConfigError", "load_config", "load_json"]


class ConfigError(ValueError):
    """A configuration file exists but is not valid JSON of the expected shape."""


def load_json(path: str | os.PathLike, what: str = "JSON file", expect: type = dict) -> Any:
    """Read ``path`` as JSON, with errors that name the file and the problem.

    ``expect`` is the required top-level type (``dict`` or ``list``).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path}: expected a {what}, found a directory") from None
    except PermissionError:
        raise PermissionError(f"{path}: {what} is not readable (permission denied)") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: {what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: {what} is not valid JSON: {exc.msg} "
                          f"(line {exc.lineno}, column {exc.colno})") from None
    if expect is not None and not isinstance(data, expect):
        raise ConfigError(f"{path}: {what} must be a JSON {expect.__name__}, got {type(data).__name__}")
    return data


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Load a Hugging Face ``config.json`` into a plain dict.

    ``path`` may be the file itself or a model directory containing it.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    return load_json(path, "model config (config.json)")
