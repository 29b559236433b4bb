"""einsum with ellipsis and implicit output, differentiable through einsums of the gradient.

>>> einsum("ij,jk->ik", ones(2, 3), ones(3, 4)).shape
tensorstein.Size([2, 4])
"""
from __future__ import annotations

import string

import numpy as np

from .. import _dtype as D
from .._autocast import _local as _autocast, lower_precision
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
    autocast = _autocast.enabled and len(operands) > 1
    if operands and not autocast:
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
    if autocast:
        return _autocast_pairs(subs, out, operands)
    return _einsum(subs, out, operands, sizes)


def _einsum(subs, out, operands, sizes):
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


def _plain(spec: str, *operands):
    """``einsum(spec, *operands)`` of same-dtype operands outside autocast's pairing."""
    lhs, out = spec.split("->")
    subs = lhs.split(",")
    return _einsum(subs, out, operands, _check_sizes(subs, operands))


def _autocast_pairs(subs, out, operands):
    """einsum as torch contracts it under CPU autocast: left to right, pair by pair (Linear.cpp), a label
    only the pair still holds summed by a ``bmm`` -- which autocast runs on bfloat16 operands, giving
    bfloat16 -- a pair without one by a ``mul`` (type promotion), and a label only one operand of the
    pair still holds summed out of it first."""
    ops = []
    for op, s in zip(operands, subs):
        u = "".join(dict.fromkeys(s))
        ops.append((_plain(f"{s}->{u}", op) if u != s else op, u))  # repeated labels: the diagonal first

    def live(op, s):  # labels of size != 1 (a size-1 dim only broadcasts)
        return {c for c, n in zip(s, op._data.shape) if n != 1}

    counts: dict[str, int] = {}
    for op, s in ops:
        for c in live(op, s):
            counts[c] = counts.get(c, 0) + 1
    contract = sorted({c for s in subs for c in s} - set(out))
    while len(ops) > 1:
        (a, sa), (b, sb) = ops.pop(0), ops.pop(0)
        la, lb = live(a, sa), live(b, sb)
        summed, a_only, b_only = set(), "", ""
        for c in contract:
            if c in la and c in lb:
                counts[c] -= 1
                if counts[c] == 1:
                    summed.add(c)
                    counts[c] = 0
            elif counts.get(c) == 1 and (c in la or c in lb):
                a_only, b_only = (a_only + c, b_only) if c in la else (a_only, b_only + c)
                counts[c] = 0
        if a_only:
            a, sa = _plain(f"{sa}->{''.join(c for c in sa if c not in a_only)}", a), \
                "".join(c for c in sa if c not in a_only)
        if b_only:
            b, sb = _plain(f"{sb}->{''.join(c for c in sb if c not in b_only)}", b), \
                "".join(c for c in sb if c not in b_only)
        keep = "".join(dict.fromkeys(c for c in sa + sb if c not in summed))
        if summed:
            a, b = lower_precision(a, b)
        if a.dtype is not b.dtype:
            rt = D.promote_types(a.dtype, b.dtype)
            a, b = a.to(rt), b.to(rt)
        ops.insert(0, (_plain(f"{sa},{sb}->{keep}", a, b), keep))
    op, s = ops[0]
    return _plain(f"{s}->{out}", op)


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
