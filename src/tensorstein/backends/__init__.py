"""``tensorstein.backends``: the switches torch exposes per backend, with the values torch reports on a
CPU-only machine (there is no CUDA, cuDNN or MPS here; the CPU path is always on).

>>> import tensorstein as torch
>>> torch.backends.mps.is_available(), torch.backends.cudnn.is_available()
(False, False)
"""
from . import cpu, cuda, cudnn, mha, mkl, mkldnn, mps, openmp  # noqa: F401

__all__ = ["cpu", "cuda", "cudnn", "mha", "mkl", "mkldnn", "mps", "openmp"]
