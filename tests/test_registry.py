"""The op registry: every registered op has samples, the namespace/methods/operators/stub all come from it,
and the hot entry points are the op functions themselves (no wrapper on the call path)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorstein as ts
from op_samples import OPS as SAMPLES
from tensorstein._ops import _registry, _stub
from tensorstein._ops._common import make_inplace, write_out
from tensorstein._ops._registry import OPS, OpDef, install, namespace_function, register


def _sample_tokens():
    return {part for o in SAMPLES for part in o.name.split(".")}


def test_every_registered_op_has_a_sample_entry():
    tokens = _sample_tokens()
    missing = [name for name, op in OPS.items() if not ({name, *op.functions, *op.methods} & tokens)]
    assert not missing, f"registered ops without an entry in tests/op_samples: {missing}"


def test_committed_stubs_are_current():
    fix = "run `PYTHONPATH=src python -m tensorstein._ops._stub`"
    assert _stub.STUB.read_text() == _stub.generate(), f"src/tensorstein/_tensor.pyi is stale: {fix}"
    assert _stub.INIT_STUB.read_text() == _stub.generate_init(), f"src/tensorstein/__init__.pyi is stale: {fix}"


def test_namespace_methods_and_inplace_come_from_the_registry():
    for op in OPS.values():
        method = op.method_fn or op.fn
        for n in op.functions:
            assert getattr(ts, n) is namespace_function(op, write_out), n
        for n in op.methods:
            got = ts.Tensor.__dict__[n]
            assert (got.fget if op.prop else got) is method, n
        for n in op.inplace:
            assert callable(getattr(ts.Tensor, n)), n
        for d in op.dunders:
            assert d in ts.Tensor.__dict__, d


def test_hot_paths_are_the_op_functions_themselves():
    assert ts.Tensor.add is ts.add is OPS["add"].fn
    assert ts.Tensor.__add__ is ts.add
    assert ts.Tensor.matmul is ts.matmul and ts.Tensor.mul is ts.mul
    assert ts.Tensor.__iadd__ is ts.Tensor.add_


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="registered twice"):
        register(lambda input: input, name="add")


def test_adding_an_op_is_one_decorated_function():
    @register(aliases=("thrice",), inplace=True, out=True)
    def triple(input):
        """``3 * input``."""
        return input * 3

    class Scratch(ts.Tensor):
        pass

    try:
        ns = install(Scratch, make_inplace, write_out)
        x = ts.tensor([1.0, 2.0])
        assert Scratch.triple(x).tolist() == [3.0, 6.0] and Scratch.thrice is Scratch.triple
        out = ts.zeros(2)
        assert ns["triple"](x, out=out) is out and out.tolist() == [3.0, 6.0]  # out= added by the registry
        y = x.clone()
        Scratch.triple_(y)
        assert y.tolist() == [3.0, 6.0]
        assert "def triple(self) -> Tensor: ..." in _stub.generate()
    finally:
        del OPS["triple"]


def test_registry_out_wrapper_refuses_autograd_like_torch():
    def neg(input):
        return -input

    f = namespace_function(OpDef(name="neg", fn=neg, functions=("neg",), out=True), write_out)
    a = ts.tensor([1.0], requires_grad=True)
    ta = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError) as want:
        torch.neg(ta, out=torch.zeros(1))
    with pytest.raises(RuntimeError) as got:
        f(a, out=ts.zeros(1))
    assert str(got.value).split("\n")[0] == str(want.value).split("\n")[0]


def test_sum_to_size_matches_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    for size in ((4,), (3, 1), (1, 3, 4), (2, 1, 1)):
        np.testing.assert_allclose(ts.from_numpy(x).sum_to_size(size).numpy(),
                                   torch.from_numpy(x).sum_to_size(size).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError) as want:
        torch.ones(2, 3).sum_to_size(2)
    with pytest.raises(RuntimeError) as got:
        ts.ones(2, 3).sum_to_size(2)
    assert str(got.value) == str(want.value)


def test_dtype_rows_give_every_spelling():
    for d in (ts.float32, ts.int64, ts.bfloat16, ts.bool):
        t = torch.zeros(1, dtype=getattr(torch, d.name))
        assert "torch." + d.tensor_type == t.type()
        assert getattr(ts.zeros(1), d.cast)().dtype is d
        assert ts.zeros(1, dtype=d).type() == "tensorstein." + d.tensor_type
    assert _registry.OPS["float"].methods == ("float",)


def test_unary_record_fused_backward_matches_the_tensor_backward():
    from tensorstein._ops.unary import Unary, unary_op

    calls = []

    def fused(g, x, y):  # arrays in, array out: the kernel hook for create_graph=False
        calls.append(1)
        return g * y

    try:
        op = unary_op(Unary("exp_fused_probe", np.exp, lambda g, x, y: g * y, "ExpBackward0", uses_output=True,
                            fused_backward=fused))
        x = ts.tensor([0.5, -1.0, 2.0], requires_grad=True)
        (gx,) = ts.autograd.grad(op(x).sum(), x)
        assert calls == [1]
        np.testing.assert_allclose(gx.numpy(), np.exp(x.detach().numpy()), rtol=1e-6)
        # create_graph: the tensor-op backward runs instead, so a second derivative exists
        (gx2,) = ts.autograd.grad(op(x).sum(), x, create_graph=True)
        assert calls == [1] and gx2.grad_fn is not None
        (ggx,) = ts.autograd.grad(gx2.sum(), x)
        np.testing.assert_allclose(ggx.numpy(), np.exp(x.detach().numpy()), rtol=1e-6)
    finally:
        OPS.pop("exp_fused_probe", None)
