"""Differential tests of the op table (tests/op_samples.py) against torch: forward values and errors,
gradients for a random upstream gradient, and ``tensorstein.autograd.gradcheck`` on float64.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import tensorstein as ts
from op_samples import (GRAD_TOL, KNOWN_FAILURES, OPS, all_cases, assert_same, assert_same_error, build, call,
                        dtype_name, grad_outputs, upstream)

CASES = all_cases()
warnings.filterwarnings("ignore", category=UserWarning)


def _params(cases, kind="forward"):
    out = []
    for op, s, cid in cases:
        marks = []
        reason = op.xfail.get(repr(s)) or KNOWN_FAILURES.get(f"{kind}|{cid}")
        if reason:
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        out.append(pytest.param(op, s, id=cid, marks=marks))
    return out


@pytest.mark.parametrize("op,sample", _params(CASES))
def test_forward_matches_torch(op, sample):
    want, want_exc, _ = call(op.fn, torch, sample)
    got, got_exc, _ = call(op.fn, ts, sample)
    if want_exc is not None:
        assert_same_error(got_exc, want_exc)
        return
    if got_exc is not None:
        raise AssertionError(f"tensorstein raised {type(got_exc).__name__}: {got_exc}; torch returned a result") \
            from got_exc
    assert_same(got, want, op.tol)


def _grad_cases():
    res = []
    for op, s, cid in CASES:
        if op.grad and any(t.wants_grad() for t in s.tensors()):
            res.append((op, s, cid))
    return res


@pytest.mark.parametrize("op,sample", _params(_grad_cases(), "grad"))
def test_grad_matches_torch(op, sample):
    want, want_exc, want_leaves = call(op.fn, torch, sample, requires_grad=True)
    if want_exc is not None:
        pytest.skip(f"torch raises: {want_exc}".split("\n")[0])
    want_outs = grad_outputs(want)
    if not want_outs:
        pytest.skip("no differentiable output")
    got, got_exc, got_leaves = call(op.fn, ts, sample, requires_grad=True)
    if got_exc is not None:
        raise AssertionError(f"tensorstein raised {type(got_exc).__name__}: {got_exc}") from got_exc
    got_outs = grad_outputs(got)
    assert len(got_outs) == len(want_outs), "different number of differentiable outputs"
    ups = upstream(want_outs, seed=len(CASES))
    want_g = torch.autograd.grad(want_outs, want_leaves, [torch.from_numpy(u) for u in ups], allow_unused=True)
    got_g = ts.autograd.grad(got_outs, got_leaves, [ts.from_numpy(u.copy()) for u in ups], allow_unused=True)
    for i, (g, w) in enumerate(zip(got_g, want_g)):
        if w is None:
            assert g is None or not np.any(g.numpy()), f"grad[{i}]: torch has none"
            continue
        if g is None:  # None means zeros (torch materialises zeros for e.g. beta=0 or empty inputs)
            assert not np.any(w.numpy()), f"grad[{i}] is None; torch has a non-zero one"
            continue
        assert tuple(g.shape) == tuple(w.shape), f"grad[{i}] shape {tuple(g.shape)} != {tuple(w.shape)}"
        assert dtype_name(g.dtype) == dtype_name(w.dtype), f"grad[{i}] dtype"
        # computed in the output's precision when it is lower than the leaf's (float64 0-d leaf with float32 op)
        out_tols = [GRAD_TOL.get(dtype_name(o.dtype), (1e-2, 1e-2)) for o in want_outs]
        rtol, atol = max([GRAD_TOL[dtype_name(w.dtype)]] + out_tols)
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=rtol * op.tol, atol=atol * op.tol, equal_nan=True,
                                   err_msg=f"grad[{i}]")


def _gradcheck_cases():
    res = []
    for op in OPS:
        if not op.gradcheck:
            continue
        n = 0
        for s in op.samples:
            ts_ = s.tensors()
            if not ts_ or not all(t.dtype in ("float32", "float64", "int64", "bool", "int32") for t in ts_):
                continue
            if not any(t.wants_grad() for t in ts_) or sum(t.arr.size for t in ts_) > 40 or s._id:
                continue
            if any(isinstance(a, float) and not np.isfinite(a) for a in s.args):
                continue  # finite differences across an infinite fill value are meaningless
            if any(t.arr.size == 0 for t in ts_) or any(np.isnan(t.arr).any() for t in ts_ if t.dtype == "float32"):
                continue
            s64 = s.as_float64()
            _, exc, _ = call(op.fn, torch, s64)
            if exc is not None:
                continue
            cid = f"{op.name}:{s!r}"
            reason = KNOWN_FAILURES.get(f"gradcheck|{cid}")
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            res.append(pytest.param(op, s64, id=cid, marks=marks))
            n += 1
            if n == 3:
                break
    return res


@pytest.mark.parametrize("op,sample", _gradcheck_cases())
def test_gradcheck_float64(op, sample):
    leaves = []
    build(sample.args, ts, True, leaves)
    build(tuple(sample.kwargs.values()), ts, True, leaves)
    specs = [t for t in sample.tensors() if t.wants_grad()]
    assert len(specs) == len(leaves)

    def func(*inputs):
        given = {id(spec): t for spec, t in zip(specs, inputs)}
        args = build(sample.args, ts, True, [], given)
        kwargs = {k: build(v, ts, True, [], given) for k, v in sample.kwargs.items()}
        out = op.fn(ts, *args, **kwargs)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return tuple(o for o in outs if isinstance(o, ts.Tensor) and o.is_floating_point())

    assert ts.autograd.gradcheck(func, tuple(leaves), eps=1e-6, atol=1e-5, rtol=1e-3)


def test_table_covers_the_issue_ops():
    names = {o.name for o in OPS}
    for required in ["add", "sub", "mul", "div", "floor_divide", "remainder", "pow", "inplace.add_", "mul.out",
                     "neg", "abs", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu",
                     "clamp", "clip", "round", "floor", "ceil", "sign", "maximum", "minimum", "where", "eq",
                     "operator.lt", "logical_and", "isnan", "isinf", "isfinite", "allclose", "isclose", "equal",
                     "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std", "norm",
                     "logsumexp", "cumsum", "all", "any", "softmax", "log_softmax", "view", "reshape", "flatten",
                     "unflatten", "squeeze", "unsqueeze", "transpose", "permute", "t", "T", "mT", "expand",
                     "expand_as", "repeat", "contiguous", "is_contiguous", "cat", "stack", "split", "chunk",
                     "narrow", "getitem", "setitem", "masked_fill", "gather", "index_select", "tril", "triu",
                     "clone", "detach", "matmul", "operator.matmul", "rmatmul", "mm", "bmm", "mv", "dot", "vdot",
                     "inner", "outer", "addmm", "addmv", "addbmm", "baddbmm", "einsum", "tensordot",
                     "linalg.vecdot", "linalg.multi_dot", "linalg.matmul"]:
        assert required in names, required
