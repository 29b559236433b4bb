"""CPU autocast beyond the matmul family: einsum follows its inner bmm calls (bfloat16 when a pair sums a
label, float32 otherwise), and torch's fp32 list (losses, prod, reflection / replication padding) computes
bfloat16 / float16 inputs in float32."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorstein as ts

_EQS = {
    "ij,jk->ik": [(3, 4), (4, 5)],
    "bij,bjk->bik": [(2, 3, 4), (2, 4, 5)],
    "i,i->": [(6,), (6,)],
    "ij,ij->i": [(3, 4), (3, 4)],
    "ij,ij->ij": [(3, 4), (3, 4)],  # a mul: stays float32
    "i,j->ij": [(3,), (4,)],
    "ij->i": [(3, 4)],  # one operand: a sum
    "ij,jk,kl->il": [(3, 4), (4, 5), (5, 2)],
    "ij,jk,l->ikl": [(3, 4), (4, 5), (2,)],  # bmm then a mul with a float32 operand: float32
    "bhqd,bhkd->bhqk": [(2, 2, 3, 4), (2, 2, 5, 4)],
    "ij,jk,k->i": [(3, 4), (4, 5), (5,)],
    "iij,jk->ik": [(3, 3, 4), (4, 2)],  # a diagonal first
    "ab,bc,cd,de->ae": [(2, 3), (3, 4), (4, 5), (5, 2)],
    "i,ij,j->": [(3,), (3, 4), (4,)],
    "ij,k->i": [(3, 4), (5,)],  # labels only one operand holds are summed out of it first
    "...ij,...jk->...ik": [(2, 3, 4), (1, 4, 5)],
}


@pytest.mark.parametrize("eq", list(_EQS))
def test_einsum_under_autocast_matches_torch(eq):
    rng = np.random.default_rng(len(eq))
    arrays = [rng.standard_normal(s).astype(np.float32) for s in _EQS[eq]]
    ours = [ts.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    with ts.autocast("cpu"):
        got = ts.einsum(eq, *ours)
    with torch.autocast("cpu"):
        want = torch.einsum(eq, *theirs)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.float().detach().numpy(), want.float().detach().numpy(), rtol=2e-2, atol=2e-2)
    up = rng.standard_normal(tuple(want.shape)).astype(np.float32)
    got.backward(ts.tensor(up).to(got.dtype))
    want.backward(torch.tensor(up).to(want.dtype))
    for a, b in zip(ours, theirs):
        assert a.grad.dtype is ts.float32
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=5e-2, atol=5e-2)


def test_einsum_under_autocast_mixed_dtypes_and_outside():
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    with ts.autocast("cpu"):
        got = ts.einsum("ij,kj->ik", ts.tensor(a).bfloat16(), ts.tensor(a))
    with torch.autocast("cpu"):
        want = torch.einsum("ij,kj->ik", torch.tensor(a).bfloat16(), torch.tensor(a))
    assert got.dtype is ts.bfloat16 and want.dtype is torch.bfloat16
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())
    assert ts.einsum("ij,jk->ik", ts.tensor(a), ts.tensor(a.T)).dtype is ts.float32  # autocast off again
    with pytest.raises(RuntimeError, match="expected scalar type BFloat16 but found Float"):
        ts.einsum("ij,kj->ik", ts.tensor(a).bfloat16(), ts.tensor(a))


def _fp32_ops():
    F = "nn.functional"
    return {
        "mse_loss": (F, "mse_loss", lambda a, b: (a, b), {}),
        "l1_loss": (F, "l1_loss", lambda a, b: (a, b), {}),
        "smooth_l1_loss": (F, "smooth_l1_loss", lambda a, b: (a, b), {}),
        "huber_loss": (F, "huber_loss", lambda a, b: (a, b), {}),
        "kl_div": (F, "kl_div", lambda a, b: (a, b.softmax(-1)), {"reduction": "batchmean"}),
        "binary_cross_entropy": (F, "binary_cross_entropy", lambda a, b: (a.sigmoid(), b.sigmoid()), {}),
        "bce_with_logits": (F, "binary_cross_entropy_with_logits", lambda a, b: (a, b.sigmoid()), {}),
        "cross_entropy.probs": (F, "cross_entropy", lambda a, b: (a, b.softmax(-1)), {}),
        "pad.reflect": (F, "pad", lambda a, b: (a[None],), {"pad": (1, 2), "mode": "reflect"}),
        "pad.replicate": (F, "pad", lambda a, b: (a[None, None],), {"pad": (1, 1, 2, 0), "mode": "replicate"}),
        "prod": ("", "prod", lambda a, b: (a,), {"dim": 1}),
    }


def _get(lib, path, name):
    for part in filter(None, path.split(".")):
        lib = getattr(lib, part)
    return getattr(lib, name)


@pytest.mark.parametrize("name", list(_fp32_ops()))
@pytest.mark.parametrize("dt", ["bfloat16", "float16"])
def test_fp32_list_under_autocast_matches_torch(name, dt):
    path, fn, prep, kw = _fp32_ops()[name]
    rng = np.random.default_rng(5)
    arrays = [rng.uniform(-1.5, 1.5, (4, 6)).astype(np.float32) for _ in range(2)]
    ours = [ts.tensor(a).to(getattr(ts, dt)).requires_grad_() for a in arrays]
    theirs = [torch.tensor(a).to(getattr(torch, dt)).requires_grad_() for a in arrays]
    with ts.autocast("cpu"):
        got = _get(ts, path, fn)(*prep(*ours), **kw)
    with torch.autocast("cpu"):
        want = _get(torch, path, fn)(*prep(*theirs), **kw)
    assert want.dtype is torch.float32 and got.dtype is ts.float32
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    up = rng.standard_normal(tuple(want.shape)).astype(np.float32)
    got.backward(ts.tensor(up))
    want.backward(torch.tensor(up))
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None
            continue
        assert a.grad.dtype is getattr(ts, dt) and b.grad.dtype is getattr(torch, dt)
        np.testing.assert_allclose(a.grad.float().numpy(), b.grad.float().numpy(), rtol=1e-2, atol=1e-3)


def test_fp32_list_leaves_float32_and_outside_alone():
    a = ts.tensor(np.ones((2, 3), np.float32)).bfloat16()
    assert ts.nn.functional.mse_loss(a, a).dtype is ts.bfloat16  # no autocast: the input dtype
    assert a.prod().dtype is ts.bfloat16
    with ts.autocast("cpu"):
        assert a.prod(dtype=ts.bfloat16).dtype is ts.bfloat16  # an explicit dtype wins (fp32_set_opt_dtype)
        assert ts.nn.functional.pad(a[None], (1, 1), mode="circular").dtype is ts.bfloat16  # not on the list
        assert ts.nn.functional.mse_loss(a.float(), a.float()).dtype is ts.float32
