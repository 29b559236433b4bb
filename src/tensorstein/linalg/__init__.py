"""``tensorstein.linalg``: matrix products and norms, as ``torch.linalg``."""
from .._ops.linalg import matmul, multi_dot, vecdot  # noqa: F401
from .._ops.reduction import norm as vector_norm  # noqa: F401


def norm(input, ord=None, dim=None, keepdim=False, *, dtype=None):
    """Vector 2-norm by default (matrix norms other than Frobenius are not supported)."""
    return vector_norm(input, 2 if ord is None or ord == "fro" else ord, dim, keepdim)


def matrix_norm(input, ord="fro", dim=(-2, -1), keepdim=False):
    if ord != "fro":
        raise NotImplementedError("only the Frobenius matrix norm is supported")
    return vector_norm(input, 2, dim, keepdim)
