"""tensorstein.nn.parallel: DistributedDataParallel (re-exports only)."""
from .distributed import DistributedDataParallel  # noqa: F401
