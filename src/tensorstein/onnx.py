"""``tensorstein.onnx``: importable so programs that ``import torch.onnx`` run; exporting is not supported.

>>> import tensorstein as torch
>>> torch.onnx.is_in_onnx_export()
False
"""
from __future__ import annotations


def is_in_onnx_export() -> bool:
    """Never: tensorstein does not trace models to ONNX."""
    return False


def export(model, args=(), f=None, *rest, **kwargs):
    """Not supported: tensorstein has no ONNX exporter (save weights with ``tensorstein.save`` instead)."""
    raise NotImplementedError("tensorstein.onnx.export: exporting to ONNX is not supported by tensorstein; save the "
                              "state_dict with tensorstein.save and export with PyTorch")
