"""nn.Module machinery and layers vs torch: registration, iteration, state dicts both ways, strict-load
errors, repr, hooks, dtype casts, and layer outputs/gradients with copied weights."""
from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import tensorstein as ts
from tensorstein import nn

RNG = np.random.default_rng(1)


def to_torch_sd(sd):
    return {k: torch.tensor(v.numpy()) for k, v in sd.items()}


def to_ts_sd(sd):
    return {k: ts.tensor(v.detach().numpy()) for k, v in sd.items()}


def build(lib):
    n = lib.nn
    return n.Sequential(OrderedDict([
        ("emb", n.Embedding(10, 6, padding_idx=0)),
        ("norm", n.LayerNorm(6)),
        ("blocks", n.ModuleList([n.Sequential(n.Linear(6, 6), n.GELU(approximate="tanh"), n.Dropout(0.1))
                                 for _ in range(2)])),
        ("rms", n.RMSNorm(6, eps=1e-6)),
        ("head", n.ModuleDict({"act": n.SiLU(), "out": n.Linear(6, 3, bias=False)})),
    ]))


class Net:
    """A forward for the nets built by ``build`` (same code for both libraries)."""

    @staticmethod
    def forward(m, idx):
        h = m.norm(m.emb(idx))
        for blk in m.blocks:
            h = h + blk(h)
        h = m.rms(h)
        return m.head["out"](m.head["act"](h))


def test_repr_identical():
    assert repr(build(ts)) == repr(build(torch))
    small = [nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Tanh(), nn.Sigmoid(), nn.Softmax(dim=1), nn.Flatten(),
             nn.Identity(), nn.LayerNorm([2, 3], elementwise_affine=False), nn.MSELoss(), nn.BCEWithLogitsLoss()]
    small_t = [torch.nn.Linear(4, 8), torch.nn.ReLU(inplace=True), torch.nn.Tanh(), torch.nn.Sigmoid(),
               torch.nn.Softmax(dim=1), torch.nn.Flatten(), torch.nn.Identity(),
               torch.nn.LayerNorm([2, 3], elementwise_affine=False), torch.nn.MSELoss(), torch.nn.BCEWithLogitsLoss()]
    assert repr(nn.Sequential(*small)) == repr(torch.nn.Sequential(*small_t))
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh(), nn.ReLU()])) == \
        repr(torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.ReLU()]))


def test_parameter():
    p = nn.Parameter(ts.tensor([1.0, 2.0]))
    assert isinstance(p, ts.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert not isinstance(p * 2, nn.Parameter)
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and r.tolist() == [1.0, 2.0]


def test_state_dict_both_ways_and_forward_backward():
    m_ts, m_th = build(ts), build(torch)
    assert list(m_ts.state_dict()) == list(m_th.state_dict())
    m_ts.load_state_dict(to_ts_sd(m_th.state_dict()))
    m_ts.eval()
    m_th.eval()
    idx = RNG.integers(0, 10, (4, 5))
    y_ts = Net.forward(m_ts, ts.tensor(idx))
    y_th = Net.forward(m_th, torch.tensor(idx))
    np.testing.assert_allclose(y_ts.detach().numpy(), y_th.detach().numpy(), atol=2e-5)
    g = RNG.standard_normal(y_th.shape).astype(np.float32)
    y_ts.backward(ts.tensor(g))
    y_th.backward(torch.tensor(g))
    grads_th = dict(m_th.named_parameters())
    for name, p in m_ts.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads_th[name].grad.numpy(), atol=5e-5, err_msg=name)
    assert not m_ts.emb.weight.grad.numpy()[0].any()  # padding row: no gradient
    # and back: tensorstein weights into torch
    m_ts2, m_th2 = build(ts), build(torch)
    m_th2.load_state_dict(to_torch_sd(m_ts2.state_dict()))
    m_ts2.eval()
    m_th2.eval()
    np.testing.assert_allclose(Net.forward(m_ts2, ts.tensor(idx)).detach().numpy(),
                               Net.forward(m_th2, torch.tensor(idx)).detach().numpy(), atol=2e-5)


def test_state_dict_round_trip_and_sharing():
    m = build(ts)
    sd = m.state_dict()
    assert not any(v.requires_grad for v in sd.values())
    assert sd["head.out.weight"]._data is m.head.out.weight._data  # detached views share memory
    m2 = build(ts)
    assert m2.load_state_dict(sd).__repr__() == "<All keys matched successfully>"
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def _strict_error(model, sd):
    with pytest.raises(RuntimeError) as e:
        model.load_state_dict(sd)
    return str(e.value)


def test_strict_load_errors_match_torch():
    m_ts, m_th = build(ts), build(torch)
    sd_ts, sd_th = dict(m_ts.state_dict()), dict(m_th.state_dict())
    for sd, extra in ((sd_ts, ts.ones(1)), (sd_th, torch.ones(1))):
        del sd["norm.bias"]
        del sd["blocks.1.0.weight"]
        sd["blocks.0.extra"] = extra
        sd["nonsense"] = extra
    assert _strict_error(m_ts, sd_ts) == _strict_error(m_th, sd_th)
    res_ts = m_ts.load_state_dict(sd_ts, strict=False)
    res_th = m_th.load_state_dict(sd_th, strict=False)
    assert res_ts.missing_keys == res_th.missing_keys and res_ts.unexpected_keys == res_th.unexpected_keys
    bad = dict(m_ts.state_dict())
    bad["norm.weight"] = ts.ones(7)
    msg = _strict_error(m_ts, bad)
    assert "size mismatch for norm.weight: copying a param with shape" in msg


def test_registration_and_iteration():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 3)
            self.w = nn.Parameter(ts.zeros(3))
            self.register_buffer("running", ts.ones(3))
            self.register_buffer("tmp", ts.ones(1), persistent=False)
            self.register_parameter("nothing", None)
            self.add_module("b", nn.Sequential(nn.Linear(3, 3), nn.ReLU()))
            self.plain = 5

    m = M()
    assert [n for n, _ in m.named_parameters()] == ["w", "a.weight", "a.bias", "b.0.weight", "b.0.bias"]
    assert [n for n, _ in m.named_buffers()] == ["running", "tmp"]
    assert list(m.state_dict()) == ["w", "running", "a.weight", "a.bias", "b.0.weight", "b.0.bias"]
    assert [n for n, _ in m.named_children()] == ["a", "b"]
    assert [n for n, _ in m.named_modules()] == ["", "a", "b", "b.0", "b.1"]
    assert len(list(m.parameters())) == 5 and len(list(m.buffers())) == 2 and len(list(m.modules())) == 5
    assert m.plain == 5 and "plain" not in m._parameters
    del m.a
    assert not hasattr(m, "a")
    with pytest.raises(AttributeError, match="'M' object has no attribute 'zzz'"):
        _ = m.zzz
    # shared parameters are yielded once
    lin = nn.Linear(2, 2)
    s = nn.Sequential(lin, lin)
    assert len(list(s.parameters())) == 2


def test_sequential_and_lists():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[-1], nn.Linear) and isinstance(s[1:], nn.Sequential) and len(s[1:]) == 2
    s.append(nn.Sigmoid())
    assert len(s) == 4 and isinstance(s[3], nn.Sigmoid)
    assert s(ts.ones(5, 2)).shape == (5, 1)
    with pytest.raises(IndexError):
        s[10]
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Tanh())
    ml.extend([nn.GELU()])
    assert len(ml) == 3 and isinstance(ml[1], nn.Tanh) and len(ml[:2]) == 2
    md = nn.ModuleDict({"a": nn.ReLU()})
    md["b"] = nn.Linear(1, 1)
    assert list(md.keys()) == ["a", "b"] and "b" in md and len(md) == 2
    assert [n for n, _ in md.named_parameters()] == ["b.weight", "b.bias"]


def test_train_eval_zero_grad_apply():
    m = build(ts)
    m.eval()
    assert all(not x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    x = ts.tensor(RNG.integers(0, 10, (2, 3)))
    Net.forward(m, x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(not p.grad.numpy().any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Sequential" and "Linear" in seen


def test_dtype_casts():
    m = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3))
    p0 = m[0].weight
    m.double()
    assert m[0].weight is p0 and all(p.dtype == ts.float64 for p in m.parameters())
    assert m(ts.ones(1, 2, dtype=ts.float64)).dtype == ts.float64
    m.to(ts.float32)
    assert all(p.dtype == ts.float32 for p in m.parameters())
    m.half()
    assert all(p.dtype == ts.float16 for p in m.parameters())
    m.float()
    assert all(p.dtype == ts.float32 for p in m.parameters())


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h = lin.register_forward_hook(lambda mod, inp, out: calls.append((mod, inp, out)))
    y = lin(ts.ones(1, 2))
    assert calls and calls[0][0] is lin and calls[0][2] is y
    lin.register_forward_hook(lambda mod, inp, out: out * 0)
    assert not lin(ts.ones(1, 2)).detach().numpy().any()
    pre = lin.register_forward_pre_hook(lambda mod, inp: (inp[0] * 2,))
    h.remove()
    n = len(calls)
    lin(ts.ones(1, 2))
    assert len(calls) == n
    pre.remove()


def test_linear_default_init_bounds():
    ts.manual_seed(0)
    lin = nn.Linear(100, 50)
    bound = 1 / np.sqrt(100)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01


def test_init_functions():
    w = nn.Parameter(ts.empty(200, 300))
    for fn, kw, std in [(nn.init.xavier_uniform_, {}, np.sqrt(2 / 500)), (nn.init.xavier_normal_, {}, np.sqrt(2 / 500)),
                        (nn.init.kaiming_uniform_, {"nonlinearity": "relu"}, np.sqrt(2 / 300)),
                        (nn.init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"}, np.sqrt(2 / 200)),
                        (nn.init.normal_, {"std": 0.02}, 0.02), (nn.init.trunc_normal_, {"std": 0.02}, 0.02)]:
        v0 = w._version[0]
        out = fn(w, **kw)
        assert out is w and w._version[0] > v0 and w.requires_grad and w.grad_fn is None
        assert abs(w.detach().numpy().std() / std - 1) < 0.05, fn.__name__
    nn.init.trunc_normal_(w, a=-0.5, b=0.5)
    assert np.abs(w.detach().numpy()).max() <= 0.5
    nn.init.constant_(w, 0.3)
    assert np.all(w.detach().numpy() == np.float32(0.3))
    nn.init.zeros_(w)
    nn.init.ones_(w)
    assert np.all(w.detach().numpy() == 1)
    for nl, a in [("relu", None), ("tanh", None), ("leaky_relu", 0.2), ("linear", None), ("selu", None)]:
        assert nn.init.calculate_gain(nl, a) == torch.nn.init.calculate_gain(nl, a)


@pytest.mark.parametrize("name,args", [("GELU", ()), ("SiLU", ()), ("Softmax", (-1,)), ("Flatten", ()),
                                       ("LayerNorm", (5,)), ("RMSNorm", (5,)), ("Tanh", ()), ("Sigmoid", ())])
def test_layers_match_torch(name, args):
    m_ts, m_th = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    m_ts.load_state_dict(to_ts_sd(m_th.state_dict()))
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    a, b = ts.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = m_ts(a), m_th(b)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), atol=1e-5)
    g = RNG.standard_normal(tuple(yb.shape)).astype(np.float32)
    ya.backward(ts.tensor(g))
    yb.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-5)


def test_loss_modules_match_torch():
    x = RNG.standard_normal((6, 4)).astype(np.float32)
    t = RNG.integers(0, 4, 6)
    y = RNG.standard_normal((6, 4)).astype(np.float32)
    p = (RNG.random((6, 4)) > 0.5).astype(np.float32)
    cases = [("CrossEntropyLoss", {"label_smoothing": 0.1}, t), ("NLLLoss", {}, t), ("MSELoss", {}, y),
             ("L1Loss", {"reduction": "sum"}, y), ("BCEWithLogitsLoss", {}, p)]
    for name, kw, target in cases:
        a = ts.tensor(x)
        lt = getattr(nn, name)(**kw)(a if name != "NLLLoss" else a.log_softmax(1), ts.tensor(target))
        b = torch.tensor(x)
        lth = getattr(torch.nn, name)(**kw)(b if name != "NLLLoss" else b.log_softmax(1), torch.tensor(target))
        np.testing.assert_allclose(lt.item(), lth.item(), rtol=1e-5, err_msg=name)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(nn.BCELoss()(ts.tensor(s), ts.tensor(p)).item(),
                               torch.nn.BCELoss()(torch.tensor(s), torch.tensor(p)).item(), rtol=1e-5)
