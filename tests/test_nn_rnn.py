"""RNN/LSTM/GRU and their cells vs torch with torch's weights loaded: outputs, final states, gradients of
input, initial states and every parameter (random upstream gradients), parameter names/shapes, repr,
init bounds, dropout between layers, fused layer vs its composite oracle, and error texts."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import tensorstein as ts
from tensorstein.nn._functional import rnn as FR

RNG = np.random.default_rng(11)


def _load(tm, sm):
    sd = tm.state_dict()
    assert list(sm.state_dict()) == list(sd)
    for k, v in sd.items():
        assert tuple(sm.state_dict()[k].shape) == tuple(v.shape)
    sm.load_state_dict({k: ts.tensor(v.numpy()) for k, v in sd.items()})


def _flat(out, lstm):
    return [out[0]] + (list(out[1]) if lstm else [out[1]])


def _check_layer(cls, kw, shape, with_hx=True, dtype=np.float32, tol=1e-5):
    tm, sm = getattr(torch.nn, cls)(**kw), getattr(ts.nn, cls)(**kw)
    if dtype == np.float64:
        tm, sm = tm.double(), sm.double()
    assert repr(sm) == repr(tm)
    _load(tm, sm)
    x = RNG.standard_normal(shape).astype(dtype)
    tx, sx = torch.tensor(x, requires_grad=True), ts.tensor(x, requires_grad=True)
    targs, sargs, states = [tx], [sx], []
    if with_hx:
        dirs = 2 if kw.get("bidirectional") else 1
        lead = kw.get("num_layers", 1) * dirs
        batch = () if len(shape) == 2 else ((shape[0],) if kw.get("batch_first") else (shape[1],))
        n = 2 if cls == "LSTM" else 1
        hs = [RNG.standard_normal((lead,) + batch + (kw["hidden_size"],)).astype(dtype) for _ in range(n)]
        states = [(torch.tensor(h, requires_grad=True), ts.tensor(h, requires_grad=True)) for h in hs]
        th, sh = [a for a, _ in states], [b for _, b in states]
        targs.append(tuple(th) if n == 2 else th[0])
        sargs.append(tuple(sh) if n == 2 else sh[0])
    to, so = _flat(tm(*targs), cls == "LSTM"), _flat(sm(*sargs), cls == "LSTM")
    tl = sl = 0
    for a, b in zip(to, so):
        assert tuple(b.shape) == tuple(a.shape)
        assert b.dtype.name == str(a.dtype).split(".")[1]
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=tol, atol=tol)
        g = RNG.standard_normal(tuple(a.shape)).astype(dtype)
        tl = tl + (a * torch.tensor(g)).sum()
        sl = sl + (b * ts.tensor(g)).sum()
    tl.backward()
    sl.backward()
    np.testing.assert_allclose(sx.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    for a, b in states:
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=tol, atol=tol)
    for (k, a), (k2, b) in zip(tm.named_parameters(), sm.named_parameters()):
        assert k == k2
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=tol, atol=tol, err_msg=k)


CONFIGS = [
    (dict(input_size=3, hidden_size=5), (7, 2, 3), True),
    (dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True), (7, 2, 3), True),
    (dict(input_size=3, hidden_size=5, num_layers=2, batch_first=True, bias=False), (2, 6, 3), False),
    (dict(input_size=3, hidden_size=4, bidirectional=True), (6, 3), True),  # unbatched
    (dict(input_size=4, hidden_size=3, num_layers=3, batch_first=True), (3, 5, 4), True),
]


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("kw,shape,with_hx", CONFIGS)
def test_recurrent_layers_against_torch(cls, kw, shape, with_hx):
    _check_layer(cls, kw, shape, with_hx)


def test_rnn_relu_and_float64():
    _check_layer("RNN", dict(input_size=3, hidden_size=5, nonlinearity="relu", num_layers=2), (7, 2, 3))
    _check_layer("LSTM", dict(input_size=3, hidden_size=4, bidirectional=True), (5, 2, 3), dtype=np.float64,
                 tol=1e-10)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_layer_matches_composite_with_double_backward(mode, reverse):
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    T, B, I, H = 5, 2, 3, 4
    mk = (lambda *s: ts.tensor(RNG.standard_normal(s) * 0.5, requires_grad=True))
    x, w_ih, w_hh, b_ih, b_hh = mk(T, B, I), mk(gates * H, I), mk(gates * H, H), mk(gates * H), mk(gates * H)
    hx = (mk(B, H), mk(B, H)) if mode == "LSTM" else (mk(B, H),)
    fused = FR.rnn_layer(mode, x, hx, w_ih, w_hh, b_ih, b_hh, reverse)
    comp = FR._layer_composite(mode, x, hx, w_ih, w_hh, b_ih, b_hh, reverse)
    np.testing.assert_allclose(fused.detach().numpy(), comp.detach().numpy(), rtol=1e-12)
    g = ts.tensor(RNG.standard_normal(tuple(fused.shape)))
    ins = (x, w_ih, w_hh, b_ih, b_hh) + hx
    g1 = ts.autograd.grad((fused * g).sum(), ins, retain_graph=True)
    g2 = ts.autograd.grad((comp * g).sum(), ins, retain_graph=True)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    # create_graph goes through the composite: a second derivative exists and agrees
    (gx,) = ts.autograd.grad((fused * g).sum(), (x,), create_graph=True)
    (gw,) = ts.autograd.grad((gx * gx).sum(), (w_hh,))
    (cx,) = ts.autograd.grad((comp * g).sum(), (x,), create_graph=True)
    (cw,) = ts.autograd.grad((cx * cx).sum(), (w_hh,))
    np.testing.assert_allclose(gw.numpy(), cw.numpy(), rtol=1e-10)


@pytest.mark.parametrize("cls,kw", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu", "bias": False}),
                                    ("LSTMCell", {}), ("GRUCell", {}), ("GRUCell", {"bias": False})])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_against_torch(cls, kw, batched):
    tm, sm = getattr(torch.nn, cls)(3, 4, **kw), getattr(ts.nn, cls)(3, 4, **kw)
    assert repr(sm) == repr(tm)
    _load(tm, sm)
    shape = (2, 3) if batched else (3,)
    x = RNG.standard_normal(shape).astype(np.float32)
    hshape = (2, 4) if batched else (4,)
    n = 2 if cls == "LSTMCell" else 1
    hs = [RNG.standard_normal(hshape).astype(np.float32) for _ in range(n)]
    th = [torch.tensor(h, requires_grad=True) for h in hs]
    sh = [ts.tensor(h, requires_grad=True) for h in hs]
    to = tm(torch.tensor(x), tuple(th) if n == 2 else th[0])
    so = sm(ts.tensor(x), tuple(sh) if n == 2 else sh[0])
    to, so = (to if n == 2 else (to,)), (so if n == 2 else (so,))
    tl = sl = 0
    for a, b in zip(to, so):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)
        g = RNG.standard_normal(tuple(a.shape)).astype(np.float32)
        tl, sl = tl + (a * torch.tensor(g)).sum(), sl + (b * ts.tensor(g)).sum()
    tl.backward()
    sl.backward()
    for a, b in zip(th, sh):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip(tm.parameters(), sm.parameters()):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-5, atol=1e-6)
    out = sm(ts.tensor(x))  # default zero state
    ref = tm(torch.tensor(x))
    np.testing.assert_allclose((out[0] if n == 2 else out).detach().numpy(),
                               (ref[0] if n == 2 else ref).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_parameter_names_layout_and_init():
    tm, sm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True), ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert [(k, tuple(v.shape)) for k, v in sm.named_parameters()] == \
        [(k, tuple(v.shape)) for k, v in tm.named_parameters()]
    big = ts.nn.GRU(8, 64)
    bound = 1 / np.sqrt(64)
    for p in big.parameters():
        a = np.abs(p.detach().numpy())
        assert a.max() <= bound and a.max() > 0.9 * bound
    assert len(sm.all_weights) == 4 and len(sm.all_weights[0]) == 4


def test_dropout_between_layers_only_in_training():
    m = ts.nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = ts.randn(6, 2, 3)
    a, b = m(x)[0], m(x)[0]
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    m.eval()
    np.testing.assert_array_equal(m(x)[0].detach().numpy(), m(x)[0].detach().numpy())
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ts.nn.GRU(3, 4, dropout=0.2)
    assert "non-zero dropout expects num_layers greater than 1" in str(w[0].message)


@pytest.mark.parametrize("call", [
    lambda n, lib: n.LSTM(3, 4)(lib.randn(2, 3, 3, 1)),
    lambda n, lib: n.GRU(3, 4)(lib.randn(2, 3, 3, 1)),
    lambda n, lib: n.RNN(3, 4)(lib.randn(2, 3, 3, 1)),
    lambda n, lib: n.LSTM(3, 4)(lib.randn(5, 2, 2)),
    lambda n, lib: n.LSTM(3, 4)(lib.randn(5, 2, 3), (lib.randn(2, 2, 4), lib.randn(1, 2, 4))),
    lambda n, lib: n.LSTM(3, 4)(lib.randn(5, 2, 3), (lib.randn(1, 2, 4), lib.randn(1, 3, 4))),
    lambda n, lib: n.LSTM(3, 4)(lib.randn(5, 3), (lib.randn(1, 2, 4), lib.randn(1, 3, 4))),
    lambda n, lib: n.LSTM(3, 4)(lib.randn(5, 2, 3), (lib.randn(2, 4), lib.randn(2, 4))),
    lambda n, lib: n.GRU(3, 4)(lib.randn(5, 2, 3), lib.randn(2, 2, 4)),
    lambda n, lib: n.RNNCell(3, 4)(lib.randn(1, 2, 3)),
    lambda n, lib: n.LSTMCell(3, 4)(lib.randn(2, 5)),
    lambda n, lib: n.GRUCell(3, 4)(lib.randn(2, 3), lib.randn(3, 4)),
    lambda n, lib: n.LSTM(3, 4, dropout=1.5),
    lambda n, lib: n.LSTM(3, 0),
    lambda n, lib: n.RNN(3, 4, nonlinearity="x"),
    lambda n, lib: n.LSTM(3, 4, 0),
])
def test_rnn_errors_match_torch(call):
    with pytest.raises(Exception) as te:
        call(torch.nn, torch)
    with pytest.raises(type(te.value)) as se:
        call(ts.nn, ts)
    assert str(se.value) == str(te.value)


def test_char_rnn_training_matches_torch():
    def build(lib):
        class Model(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = lib.nn.Embedding(11, 6)
                self.rnn = lib.nn.GRU(6, 8, num_layers=2, batch_first=True)
                self.head = lib.nn.Linear(8, 11)

            def forward(self, idx):
                out, _ = self.rnn(self.emb(idx))
                return self.head(out)
        return Model()
    tm, sm = build(torch), build(ts)
    _load(tm, sm)
    topt, sopt = torch.optim.Adam(tm.parameters(), 1e-2), ts.optim.Adam(sm.parameters(), 1e-2)
    idx = RNG.integers(0, 11, (4, 9))
    for _ in range(3):
        tl = torch.nn.functional.cross_entropy(tm(torch.tensor(idx[:, :-1])).reshape(-1, 11),
                                               torch.tensor(idx[:, 1:]).reshape(-1))
        sl = ts.nn.functional.cross_entropy(sm(ts.tensor(idx[:, :-1])).reshape(-1, 11),
                                            ts.tensor(idx[:, 1:]).reshape(-1))
        np.testing.assert_allclose(sl.item(), tl.item(), rtol=1e-5)
        for opt, loss in ((topt, tl), (sopt, sl)):
            opt.zero_grad()
            loss.backward()
            opt.step()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_lstm_backward_matches_numpy_oracle(monkeypatch, dtype):
    m = ts.nn.LSTM(6, 8, bidirectional=True)
    if dtype == np.float64:
        m = m.double()
    x = RNG.standard_normal((7, 3, 6)).astype(dtype)
    g = RNG.standard_normal((7, 3, 16)).astype(dtype)
    grads = []
    for flag in (False, True):
        monkeypatch.setattr(FR, "USE_NUMBA", flag)
        m.zero_grad()
        xx = ts.tensor(x, requires_grad=True)
        out, (_, c) = m(xx)
        (out * ts.tensor(g)).sum().add(c.sum()).backward()
        grads.append([xx.grad.numpy()] + [p.grad.numpy() for p in m.parameters()])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(*grads):
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
