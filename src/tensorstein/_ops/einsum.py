"""einsum with ellipsis and implicit output, differentiable through einsums of the gradient.

>>> einsum("ij,jk->ik", ones(2, 3), ones(3, 4)).shape
tensorstein.Size([2, 4])
"""
from __future__ import annotations

import string

import numpy as np

from .._autograd.graph import attach, node_type, needs_grad
from .._tensor import Tensor
from ._common import HALF as _HALF
from ._registry import register

EinsumBackward0 = node_type("EinsumBackward0")
_LETTERS = set(string.ascii_letters)


def _parse(equation: str, operands) -> tuple[list[str], str]:
    """Explicit per-operand subscripts and output subscripts, ellipses replaced by spare letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation"
                           if len(operands) > len(subs) else
                           "einsum(): fewer operands were provided than specified in the equation")
    for s in subs + [rhs]:
        for ch in s.replace("...", ""):
            if ch not in _LETTERS:
                raise RuntimeError(f"einsum(): invalid subscript given at index {eq.index(ch)} in the equation string, "
                                   "subscripts must be in [a-zA-Z]")
    used = set(eq)
    spare = [c for c in string.ascii_uppercase[::-1] + string.ascii_lowercase[::-1] if c not in used]
    ell_len = 0
    for s, op in zip(subs, operands):
        if "..." in s:
            ell_len = max(ell_len, op._data.ndim - (len(s) - 3))
    ell = "".join(spare[:ell_len][::-1])
    out_subs: list[str] = []
    for s, op in zip(subs, operands):
        if "..." in s:
            n = op._data.ndim - (len(s) - 3)
            s = s.replace("...", ell[ell_len - n:] if n else "")
        if len(s) != op._data.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(s)}) does not match the "
                               f"number of dimensions ({op._data.ndim}) for operand {len(out_subs)}"
                               f"{'' if '...' in lhs else ' and no ellipsis was given'}")
        out_subs.append(s)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts: dict[str, int] = {}
        for s in out_subs:
            for ch in s:
                counts[ch] = counts.get(ch, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return out_subs, out


def _check_sizes(subs, operands):
    sizes = {}
    for i, (s, op) in enumerate(zip(subs, operands)):
        for ch, n in zip(s, op._data.shape):
            if ch in sizes and sizes[ch] != n and n != 1 and sizes[ch] != 1:
                raise RuntimeError(f"einsum(): subscript {ch} has size {n} for operand {i} which does not broadcast "
                                   f"with previously seen size {sizes[ch]}")
            if ch not in sizes or sizes[ch] == 1:
                sizes[ch] = n
    return sizes


def einsum(equation: str, *operands):
    """Einstein summation: ``einsum('bij,bjk->bik', a, b)`` is a batched matmul."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for op in operands:
        if not isinstance(op, Tensor):
            raise TypeError(f"einsum(): operands must be Tensors, not {type(op).__name__}")
    if operands:
        d0 = operands[0]._data.dtype
        for op in operands[1:]:
            if op._data.dtype != d0:
                raise RuntimeError(f"expected scalar type {operands[0].dtype.scalar_name} but found "
                                   f"{op.dtype.scalar_name}")
    subs, out = _parse(equation, operands)
    for ch in out:
        if out.count(ch) > 1:
            raise RuntimeError(f"einsum(): output subscript {ch} appears more than once in the output")
        if sum(s.count(ch) for s in subs) == 0:
            raise RuntimeError(f"einsum(): output subscript {ch} does not appear in the equation for any input "
                               "operand")
    sizes = _check_sizes(subs, operands)
    arrays = [_broadcast_ones(op._data, s, sizes) for op, s in zip(operands, subs)]
    dt = operands[0]._data.dtype
    if dt in _HALF:
        arrays = [a.astype(np.float32) for a in arrays]
    elif dt.kind in "iub":
        arrays = [a.astype(np.int64) for a in arrays]
    spec = ",".join(subs) + "->" + out
    arr = np.einsum(spec, *arrays, optimize=len(arrays) > 2)
    res = Tensor._make(np.asarray(arr).astype(dt, copy=False))
    if needs_grad(*operands):
        def backward(g):
            return tuple(_operand_grad(g, out, subs, operands, i, sizes) if operands[i].requires_grad else None
                         for i in range(len(operands)))

        attach(res, EinsumBackward0, backward, tuple(operands), tuple(operands))
    return res


def _broadcast_ones(arr, sub, sizes):
    """Expand size-1 dims to the size the subscript has elsewhere (torch broadcasts them)."""
    target = tuple(sizes[ch] for ch in sub)
    return arr if arr.shape == target else np.broadcast_to(arr, target)


def _operand_grad(g, out, subs, operands, i, sizes):
    target = subs[i]
    uniq = "".join(dict.fromkeys(target))
    available = set(out).union(*(set(s) for j, s in enumerate(subs) if j != i))
    kept = "".join(c for c in uniq if c in available)
    others = [operands[j] for j in range(len(operands)) if j != i]
    other_subs = [subs[j] for j in range(len(operands)) if j != i]
    grad = einsum(",".join([out] + other_subs) + "->" + kept, g, *others)
    if kept != uniq:  # letters summed only inside operand i: the gradient is constant along them
        shape = [sizes[c] if c in kept else 1 for c in uniq]
        grad = grad.reshape(shape).expand([sizes[c] for c in uniq])
    if uniq != target:  # repeated letters (a diagonal): scatter onto it
        arr = np.zeros(operands[i]._data.shape, dtype=grad._data.dtype)
        idx = np.indices([sizes[c] for c in uniq])
        pos = {c: k for k, c in enumerate(uniq)}
        arr[tuple(idx[pos[c]] for c in target)] = grad._data
        return Tensor._make(arr)
    return grad


register(einsum, method=False)
