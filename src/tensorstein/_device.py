"""Devices: tensorstein computes on the CPU only; asking for another device is a clear error.

>>> device("cpu")
device(type='cpu')
"""
from __future__ import annotations


class device:
    """A device description, as ``torch.device``: ``device("cpu")`` or ``device("cpu", 0)``."""

    __slots__ = ("type", "index")

    def __init__(self, type: "str | device", index: int | None = None):
        if isinstance(type, device):
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got ({type!r})")
        name, _, idx = type.partition(":")
        if idx:
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        known = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "vulkan", "mkldnn", "opengl", "opencl",
                 "ideep", "ve", "fpga", "maia", "lazy", "ipu", "mtia", "privateuseone", "hpu")
        if name not in known:
            raise RuntimeError(
                f"Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, xla, "
                f"lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type at start of device string: {type}")
        self.type = name
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = device("cpu")


def check_device(dev) -> device:
    """Return the device if tensorstein can use it, else raise a clear error."""
    if dev is None:
        return CPU
    d = dev if isinstance(dev, device) else device(dev)
    if d.type == "cuda":  # torch's own error on a build without CUDA
        raise AssertionError("Torch not compiled with CUDA enabled")
    if d.type != "cpu":
        raise RuntimeError(
            f"Device '{d}' is not available: tensorstein computes on the CPU only "
            f"(cuda.is_available() is False). Use device='cpu' or leave the device out.")
    return d


_default = [CPU]


def get_default_device() -> device:
    """The device new tensors are created on: always the CPU here."""
    return _default[0]


def set_default_device(dev) -> None:
    """Set the default device; only the CPU (or None, meaning the CPU) is available."""
    _default[0] = check_device(dev)
