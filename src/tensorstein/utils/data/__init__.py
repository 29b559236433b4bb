"""``tensorstein.utils.data``: torch's datasets, samplers and ``DataLoader`` (worker processes included).

>>> import tensorstein as torch
>>> from tensorstein.utils.data import DataLoader, TensorDataset
>>> [b[0].tolist() for b in DataLoader(TensorDataset(torch.arange(5)), batch_size=2)]
[[0, 1], [2, 3], [4]]
"""
from ._collate import default_collate, default_convert  # noqa: F401
from ._worker import get_worker_info  # noqa: F401
from .dataloader import DataLoader  # noqa: F401
from .dataset import (  # noqa: F401
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .sampler import (  # noqa: F401
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def __getattr__(name: str):
    # DistributedSampler lives in .distributed (written with tensorstein.distributed); loaded on first use
    if name in ("DistributedSampler", "distributed"):
        import importlib

        module = importlib.import_module(".distributed", __name__)
        globals()["distributed"] = module
        return module if name == "distributed" else module.DistributedSampler
    raise AttributeError(f"module 'tensorstein.utils.data' has no attribute '{name}'")
