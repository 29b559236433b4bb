"""``tensorstein.utils``: data loading (``utils.data``), loaded on first use.

>>> import tensorstein as torch
>>> torch.utils.data.TensorDataset(torch.zeros(3, 2))[0][0].shape
tensorstein.Size([2])
"""


def __getattr__(name: str):
    if name == "data":
        import importlib

        module = importlib.import_module(".data", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tensorstein.utils' has no attribute '{name}'")
