"""``torch.backends.openmp``: element-wise and attention kernels run on tensorstein's own thread pool."""


def is_available() -> bool:
    return True
