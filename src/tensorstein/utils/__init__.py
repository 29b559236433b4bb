"""``tensorstein.utils``: data loading (``utils.data``) and ``utils.checkpoint``, loaded on first use.

>>> import tensorstein as torch
>>> torch.utils.data.TensorDataset(torch.zeros(3, 2))[0][0].shape
tensorstein.Size([2])
"""


def __getattr__(name: str):
    if name in ("data", "checkpoint"):
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tensorstein.utils' has no attribute '{name}'")
