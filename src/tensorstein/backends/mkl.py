"""``torch.backends.mkl``: reported available, as on torch's CPU build (BLAS work goes to NumPy's BLAS here)."""


def is_available() -> bool:
    return True
