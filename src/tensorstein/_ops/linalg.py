"""The matmul family (matmul, mm, bmm, mv, dot, addmm, einsum, tensordot, multi_dot, ...), torch-exact.

Operands must share a dtype. float16/bfloat16 accumulate in float32; integer products are computed
exactly (float64 BLAS when no rounding can happen, else int64) and wrap to the input dtype as torch does.

>>> mm(ones(2, 3), ones(3, 4)).shape
tensorstein.Size([2, 4])
"""
from __future__ import annotations

import math

import numpy as np

from .._autocast import _local as _autocast, lower_precision
from .._autograd.grad_mode import grad_enabled, no_grad
from .._autograd.graph import attach, node_type, needs_grad
from .._kernels.blas import MIN_WORK as _TEAM_WORK, matmul as _blas_matmul
from .._tensor import Tensor, _wrap_dim
from ._common import HALF as _HALF, write_out
from ._registry import register
from .errors import broadcast_shapes
from .shape import expand

_EXACT_IN_FLOAT64 = float(2 ** 53)

MmBackward0 = node_type("MmBackward0")
BmmBackward0 = node_type("BmmBackward0")
MvBackward0 = node_type("MvBackward0")
DotBackward0 = node_type("DotBackward0")
UnsafeViewBackward0 = node_type("UnsafeViewBackward0")


# ---------------------------------------------------------------- kernels on arrays
def matmul_arrays(x: np.ndarray, y: np.ndarray, kernel: str = "addmm_impl_cpu_") -> np.ndarray:
    """``x @ y`` for same-dtype arrays, in the input dtype, with torch's accumulation rules."""
    dt = x.dtype
    if dt == np.float32 or dt == np.float64:
        return _blas_matmul(x, y)
    if dt in _HALF:
        return _blas_matmul(x.astype(np.float32), y.astype(np.float32)).astype(dt)
    if dt == np.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    k = x.shape[-1]
    bound = _abs_max(x) * _abs_max(y) * max(k, 1)
    if bound < _EXACT_IN_FLOAT64:
        out = np.matmul(x.astype(np.float64), y.astype(np.float64)).astype(np.int64)
    else:
        out = np.matmul(x.astype(np.int64), y.astype(np.int64))
    return out.astype(dt)


def _abs_max(a: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int64)).max()) if a.size else 0.0


# ---------------------------------------------------------------- checks and messages
def _same_dtype(a, b, style="mm"):
    if a._data.dtype != b._data.dtype:
        da, db = a.dtype, b.dtype
        if style == "dot":
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {da.scalar_name} and "
                               f"{db.scalar_name}")
        if style == "bmm":
            raise RuntimeError(f"expected scalar type {da.scalar_name} but found {db.scalar_name}")
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {da.cpp_name} != "
                           f"{db.cpp_name}\nmatrix products need one dtype: convert one operand, "
                           f"e.g. b.to(a.dtype)")


def _check_tensor(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a Tensor, not {type(x).__name__}")


def _mm_shape_error(sa, sb) -> RuntimeError:
    n, k = sa
    k2, m = sb
    hint = ""
    if m == k and k2 != k:
        hint = " — did you mean B.T?"
    elif n == k2 and k != k2:
        hint = " — did you mean A.T?"
    return RuntimeError(
        f"mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {k2}x{m})\n"
        f"inner dimensions differ: A is {n}x{k}, B is {k2}x{m}; the columns of A ({k}) must equal the rows of "
        f"B ({k2}){hint}")


def _dot_size_error(n, m) -> RuntimeError:
    return RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same number of "
                        f"elements, but got {n} and {m} elements respectively\n"
                        f"a dot product needs two vectors of the same length")


def _bmm_shape_error(b, k, got) -> RuntimeError:
    return RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {k}] but got: "
                        f"{list(got)}.\nbatched products need equal batch sizes and the columns of each left matrix "
                        f"({k}) equal to the rows of each right matrix ({got[1]})")


def _out(res, out):
    if out is None:
        return res
    if isinstance(out, Tensor) and out.dtype is not res.dtype:
        raise RuntimeError(f"Expected out tensor to have dtype {res.dtype.cpp_name}, but got "
                           f"{out.dtype.cpp_name} instead")
    return write_out(out, res)


# ---------------------------------------------------------------- mm / bmm / mv / dot
def mm(input, mat2, *, out=None):
    """2-D matrix product: (n, k) @ (k, m) -> (n, m)."""
    _check_tensor(input, "self")
    _check_tensor(mat2, "mat2")
    if _autocast.enabled:
        input, mat2 = lower_precision(input, mat2)
    x, y = input._data, mat2._data
    if x.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if y.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if x.shape[1] != y.shape[0]:
        raise _mm_shape_error(x.shape, y.shape)
    _same_dtype(input, mat2)
    res = Tensor._make(matmul_arrays(x, y))
    if out is not None:
        return _out(res, out)
    if needs_grad(input, mat2):
        a, b = input, mat2
        attach(res, MmBackward0, lambda g: (mm(g, b.t()) if a.requires_grad else None,
                                             mm(a.t(), g) if b.requires_grad else None), (a, b), (a, b))
    return res


def bmm(input, mat2, *, out=None):
    """Batched matrix product: (b, n, k) @ (b, k, m) -> (b, n, m); no broadcasting."""
    _check_tensor(input, "batch1")
    _check_tensor(mat2, "batch2")
    if _autocast.enabled:
        input, mat2 = lower_precision(input, mat2)
    x, y = input._data, mat2._data
    if x.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if y.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if y.shape[0] != x.shape[0] or y.shape[1] != x.shape[2]:
        raise _bmm_shape_error(x.shape[0], x.shape[2], y.shape[:2])
    _same_dtype(input, mat2, "bmm")
    res = Tensor._make(matmul_arrays(x, y, "bmm"))
    if out is not None:
        return _out(res, out)
    if needs_grad(input, mat2):
        a, b = input, mat2
        attach(res, BmmBackward0, lambda g: (bmm(g, b.mT) if a.requires_grad else None,
                                              bmm(a.mT, g) if b.requires_grad else None), (a, b), (a, b))
    return res


def _addmv_dtypes(self_dtype, mat, vec):
    if not (self_dtype is mat.dtype is vec.dtype):
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {self_dtype.scalar_name}, "
                           f"{mat.dtype.scalar_name}, and {vec.dtype.scalar_name}")


def mv(input, vec, *, out=None):
    """Matrix-vector product: (n, m) @ (m,) -> (n,)."""
    x, v = input._data, vec._data
    if x.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {x.ndim}, {v.ndim}")
    if x.shape[1] != v.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({x.shape[0]}), mat ({x.shape[0]}x{x.shape[1]}), vec "
                           f"({v.shape[0]})\nthe columns of the matrix ({x.shape[1]}) must equal the length of the "
                           f"vector ({v.shape[0]})")
    if input.dtype is not vec.dtype:
        _addmv_dtypes(vec.dtype, input, vec)
    res = Tensor._make(matmul_arrays(x, v, "addmv_impl_cpu"))
    if out is not None:
        return _out(res, out)
    if needs_grad(input, vec):
        a, b = input, vec
        attach(res, MvBackward0, lambda g: (outer(g, b) if a.requires_grad else None,
                                             mv(a.t(), g) if b.requires_grad else None), (a, b), (a, b))
    return res


def dot(input, other, *, out=None):
    """Inner product of two 1-D tensors -> 0-D tensor."""
    x, y = input._data, other._data
    if x.ndim != 1 or y.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {x.ndim}D and {y.ndim}D tensors")
    if x.shape[0] != y.shape[0]:
        raise _dot_size_error(x.shape[0], y.shape[0])
    _same_dtype(input, other, "dot")
    res = Tensor._make(np.asarray(matmul_arrays(x, y, "dot")))
    if out is not None:
        return _out(res, out)
    if needs_grad(input, other):
        a, b = input, other
        attach(res, DotBackward0, lambda g: (g * b if a.requires_grad else None,
                                              g * a if b.requires_grad else None), (a, b), (a, b))
    return res


vdot = dot


# ---------------------------------------------------------------- matmul
def matmul(input, other, *, out=None):
    """torch.matmul: dot, mv, mm, or broadcast batched product depending on the ranks.

    A 1-D left operand gets a leading 1 (removed after), a 1-D right operand a trailing 1.
    Batch dims broadcast without materialising the expanded operands.
    """
    _check_tensor(input, "input")
    _check_tensor(other, "other")
    if _autocast.enabled:
        input, other = lower_precision(input, other)
    x, y = input._data, other._data
    nx, ny = x.ndim, y.ndim
    if nx == 0 or ny == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {nx}D and {ny}D")
    if nx == 2 and ny == 2:
        res = mm(input, other)
    elif nx == 1 and ny == 1:
        res = dot(input, other)
    elif nx == 2 and ny == 1:
        res = mv(input, other)
    elif nx == 1 and ny == 2:
        if x.shape[0] != y.shape[0]:
            raise _mm_shape_error((1, x.shape[0]), y.shape)
        res = mm(input.unsqueeze(0), other).squeeze(0)
    elif ny <= 2:
        # fold the batch into the rows: one GEMM, (..., n, k) @ (k, m) or (..., n, k) @ (k,)
        k = x.shape[-1]
        flat = input.reshape(math.prod(x.shape[:-1]), k)
        if ny == 2:
            if k != y.shape[0]:
                raise _mm_shape_error(flat._data.shape, y.shape)
            res = _as_unsafe_view(mm(flat, other), x.shape[:-1] + (y.shape[1],))
        else:
            if k != y.shape[0]:
                rows = flat._data.shape[0]
                raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k}), vec "
                                   f"({y.shape[0]})")
            res = _as_unsafe_view(mv(flat, other), x.shape[:-1])
    else:
        res = _batched_matmul(input, other)
    return _out(res, out)


def _as_unsafe_view(t, shape):
    res = Tensor._make(t._data.reshape(shape))
    in_shape = t._data.shape
    return attach(res, UnsafeViewBackward0, lambda g: (g.reshape(in_shape),), (t,))


def _batched_matmul(input, other):
    x, y = input._data, other._data
    a, b = input, other
    squeeze_left = x.ndim == 1
    if squeeze_left:
        x, a = x[None, :], input.unsqueeze(0)
    k, k2 = x.shape[-1], y.shape[-2]
    batch_x, batch_y = x.shape[:-2], y.shape[:-2]
    bshape = broadcast_shapes(batch_x, batch_y)
    if k != k2:
        nb = math.prod(bshape)
        raise _bmm_shape_error(nb, k, (nb, k2))
    _same_dtype(a, b, "bmm")
    res = Tensor._make(matmul_arrays(x, y, "bmm"))
    if needs_grad(a, b):
        def backward(g):
            gd = g._data
            if not grad_enabled() and (gd.dtype == np.float32 or gd.dtype == np.float64) and \
                    gd.dtype == a._data.dtype == b._data.dtype:
                # no graph to record: the same products as the Tensor path below, without its checks
                return (Tensor._make(_blas_matmul(gd, np.swapaxes(b._data, -1, -2))) if a.requires_grad else None,
                        Tensor._make(_blas_matmul(np.swapaxes(a._data, -1, -2), gd)) if b.requires_grad else None)
            return (matmul(g, b.mT) if a.requires_grad else None,
                    matmul(a.mT, g) if b.requires_grad else None)

        attach(res, UnsafeViewBackward0, backward, (a, b), (a, b))
    return res.squeeze(-2) if squeeze_left else res


# ---------------------------------------------------------------- add* variants
def _scaled_sum(input, product, beta, alpha, target_shape):
    """``beta * input + alpha * product``; beta == 0 ignores input (NaN included), as torch; integer
    tensors truncate ``beta`` and ``alpha`` to integers (torch: ``addmm(int, beta=0.5)`` ignores input)."""
    if product.dtype._category < 2:
        beta, alpha = int(beta), int(alpha)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        expand(input, target_shape)  # the shape check still applies
        return product
    inp = expand(input, target_shape)
    return (inp * beta if beta != 1 else inp) + product


def _self_mat_dtypes(input, mat1, mat2):
    """addmm/addbmm's dtype checks, in torch's order: self against mat2, then mat1 against mat2."""
    for name, t in (("self", input), ("mat1", mat1)):
        if t.dtype is not mat2.dtype:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got {t.dtype.scalar_name} and "
                               f"{mat2.dtype.scalar_name}")


def _size(t, d):
    """``t.size(d)`` with torch's out-of-range error."""
    return t._data.shape[_wrap_dim(d, t._data.ndim)]


AddmmBackward0 = node_type("AddmmBackward0")


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat1 @ mat2)`` as one op (torch's AddmmBackward0)."""
    _check_tensor(input, "self")
    _check_tensor(mat1, "mat1")
    _check_tensor(mat2, "mat2")
    if _autocast.enabled:
        input, mat1, mat2 = lower_precision(input, mat1, mat2)
    _self_mat_dtypes(input, mat1, mat2)
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if t._data.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {t._data.ndim}-D tensor")
    with no_grad():
        prod = mm(mat1, mat2)
        res = _scaled_sum(input, prod, beta, alpha, prod._data.shape)
    if out is not None:
        return _out(res, out)
    if needs_grad(input, mat1, mat2):
        a, b = mat1, mat2

        def backward(g):
            gp = g * alpha if alpha != 1 else g
            return (None if beta == 0 or not input.requires_grad else (g * beta if beta != 1 else g),
                    mm(gp, b.t()) if a.requires_grad else None,
                    mm(a.t(), gp) if b.requires_grad else None)

        attach(res, AddmmBackward0, backward, (input, a, b), (a, b))
    return res


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    x, v = mat._data, vec._data
    if x.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input._data.ndim}, {x.ndim}, {v.ndim}")
    if x.shape[1] != v.shape[0] or input._data.ndim > 1 or (
            input._data.ndim == 1 and input._data.shape[0] not in (1, x.shape[0])):
        if input._data.ndim == 0:  # torch's message asks the 0-d input for its size
            raise IndexError("Dimension specified as 0 but tensor has no dimensions")
        raise RuntimeError(f"size mismatch, got input ({input._data.shape[0] if input._data.ndim else 1}), mat "
                           f"({x.shape[0]}x{x.shape[1]}), vec ({v.shape[0]})")
    _addmv_dtypes(input.dtype, mat, vec)
    prod = mv(mat, vec)
    return _out(_scaled_sum(input, prod, beta, alpha, prod._data.shape), out)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    if _autocast.enabled:
        input, batch1, batch2 = lower_precision(input, batch1, batch2)
    expand(input, (_size(batch1, 0), _size(batch1, 1), _size(batch2, 2)))  # torch checks the input shape first
    if input.dtype is not batch1.dtype:
        raise RuntimeError(f"Input dtypes must be the same, got: input {input.dtype.cpp_name}, batch1: "
                           f"{batch1.dtype.cpp_name}, batch2: {batch2.dtype.cpp_name}")
    prod = bmm(batch1, batch2)
    return _out(_scaled_sum(input, prod, beta, alpha, prod._data.shape), out)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    if _autocast.enabled:
        input, batch1, batch2 = lower_precision(input, batch1, batch2)
    expand(input, (_size(batch1, 1), _size(batch2, 2)))  # torch checks the input shape first
    _self_mat_dtypes(input, batch1, batch2)
    x, y = batch1._data, batch2._data
    if x.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if y.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if x.shape[0] != y.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[2] != y.shape[1]:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({x.shape[1]}x{x.shape[2]} and "
                           f"{y.shape[1]}x{y.shape[2]})")
    prod = bmm(batch1, batch2).sum(0)
    return _out(_scaled_sum(input, prod, beta, alpha, prod._data.shape), out)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    prod = outer(vec1, vec2)
    return _scaled_sum(input, prod, beta, alpha, prod._data.shape)


# ---------------------------------------------------------------- outer / inner / tensordot
def outer(input, vec2, *, out=None):
    if input._data.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {input._data.ndim}-D")
    if vec2._data.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument vec2, but got {vec2._data.ndim}-D")
    return _out(input.unsqueeze(1) * vec2.unsqueeze(0), out)


ger = outer


def inner(input, other, *, out=None):
    """Sum over the last dims: ``inner(a, b)[i, j] = sum_k a[i, k] * b[j, k]``; a 0-D operand multiplies."""
    if input._data.ndim == 0 or other._data.ndim == 0:
        return _out(input * other, out)
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input._data.shape)} and {list(other._data.shape)}")
    return _out(tensordot(input, other, dims=([-1], [-1])), out)


def tensordot(a, b, dims=2, out=None):
    """Contract ``dims`` (a count of trailing/leading dims, or two lists) of a and b."""
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > na or dims > nb:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(na - dims, na)), list(range(dims))
    elif isinstance(dims, Tensor):
        return tensordot(a, b, dims.tolist(), out)
    else:
        da, db = ([dims[0]] if isinstance(dims[0], int) else list(dims[0])), (
            [dims[1]] if isinstance(dims[1], int) else list(dims[1]))
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if isinstance(dims, (int, np.integer)):
        shown_a, shown_b = [d - na for d in da], db  # torch names a's dims from the end
    else:
        shown_a, shown_b = da, db
    da = [d % na if na else d for d in da]
    db = [d % nb if nb else d for d in db]
    for i, j, si, sj in zip(da, db, shown_a, shown_b):
        if a._data.shape[i] != b._data.shape[j] and 1 in (a._data.shape[i], b._data.shape[j]):
            if a._data.shape[i] == 1:  # torch sums the other side's dim first (a size-1 dim broadcasts)
                b = b.sum(j, keepdim=True)
            else:
                a = a.sum(i, keepdim=True)
        if a._data.shape[i] != b._data.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a._data.shape[i]} in dim "
                               f"{si} and second has size {b._data.shape[j]} in dim {sj}")
    free_a = [i for i in range(na) if i not in da]
    free_b = [j for j in range(nb) if j not in db]
    k = int(np.prod([a._data.shape[i] for i in da])) if da else 1
    shape = [a._data.shape[i] for i in free_a] + [b._data.shape[j] for j in free_b]
    m = int(np.prod(shape[:len(free_a)])) if free_a else 1
    left = a.permute(free_a + da).reshape(m, k)  # explicit sizes: an empty dim leaves -1 ambiguous
    right = b.permute(db + free_b).reshape(k, -1 if k else int(np.prod(shape[len(free_a):])))
    return _out(mm(left, right).reshape(shape), out)


# ---------------------------------------------------------------- linalg namespace pieces
def vecdot(x, y, *, dim=-1):
    """Dot product of vectors along ``dim`` with broadcasting."""
    if _autocast.enabled:
        x, y = lower_precision(x, y)
    if x._data.dtype != y._data.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{x.dtype.scalar_name} and y of type {y.dtype.scalar_name} instead")
    return (x * y).sum(dim)


def multi_dot(tensors, *, out=None):
    """Product of a chain of matrices in the cheapest order (first/last may be 1-D)."""
    tensors = list(tensors)
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first_1d, last_1d = tensors[0]._data.ndim == 1, tensors[-1]._data.ndim == 1
    mats = list(tensors)
    if first_1d:
        mats[0] = mats[0].unsqueeze(0)
    if last_1d:
        mats[-1] = mats[-1].unsqueeze(1)
    for i, m in enumerate(mats):
        if m._data.ndim != 2:
            which = "first" if i == 0 else ("last" if i == n - 1 else None)
            if which:
                raise RuntimeError(f"multi_dot(): the {which} tensor must be 1D or 2D but got "
                                   f"{tensors[i]._data.ndim}D")
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {m._data.ndim}D")
        if m._data.dtype != mats[0]._data.dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                               f"{mats[0].dtype.cpp_name} and tensor {i} {m.dtype.cpp_name}")
    for i in range(n - 1):
        if mats[i]._data.shape[1] != mats[i + 1]._data.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(tensors[i]._data.shape)} "
                               f"and {list(tensors[i + 1]._data.shape)} cannot be multiplied")
    dims = [mats[0]._data.shape[0]] + [m._data.shape[1] for m in mats]
    order = _chain_order(dims)

    def build(i, j):
        if i == j:
            return mats[i]
        s = order[i][j]
        return mm(build(i, s), build(s + 1, j))

    res = build(0, n - 1)
    if first_1d:
        res = res.squeeze(0)
    if last_1d:
        res = res.squeeze(-1)
    return _out(res, out)


def _chain_order(dims):
    """Classic matrix-chain dynamic programme: split[i][j] is the best split of mats i..j."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s
    return split


def chain_matmul(*matrices):
    for m in matrices:
        if isinstance(m, Tensor) and m._data.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m._data.ndim}, expected 2 instead.")
    return multi_dot(matrices)


# ---------------------------------------------------------------- operators and registry entries
def _matmul_fast(self, other):
    # the common case without autograd: two same-dtype float32/64 matrices
    if type(other) is Tensor and not (grad_enabled() and (self.requires_grad or other.requires_grad)) and \
            not _autocast.enabled:
        x, y = self._data, other._data
        if x.dtype is y.dtype and x.ndim == 2 and y.ndim == 2 and x.shape[1] == y.shape[0] and \
                (x.dtype.char == "f" or x.dtype.char == "d"):
            return Tensor._make(np.matmul(x, y) if x.size * y.shape[1] < _TEAM_WORK else _blas_matmul(x, y))
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(self, other)


def _rmatmul(self, other):
    return matmul(other, self) if isinstance(other, Tensor) else NotImplemented


def _imatmul(self, other):
    return self.copy_(matmul(self, other))


register(matmul, dunders={"__matmul__": _matmul_fast, "__rmatmul__": _rmatmul, "__imatmul__": _imatmul})
register(mm, bmm, mv, dot, inner, addmm, addmv, addbmm, baddbmm, addr)
register(outer, aliases=("ger",))
register(vdot, name="vdot")
register(tensordot, method=False)
register(chain_matmul, method=False)
