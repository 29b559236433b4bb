"""Recurrent layers: one direction of one layer of RNN (tanh/relu), LSTM and GRU as a single op each.

The input projection of every time step is one GEMM; the recurrence loops over time with one small
GEMM per step (on one BLAS thread); backward runs the recurrence in reverse and finishes with three GEMMs
for the weight and input gradients. LSTM in float32/float64 runs the gate-major fused layer of
``_lstm_kernels`` (the NumPy LSTM below is its oracle). The cell functions (``lstm_cell``,
``gru_cell``, ``rnn_tanh_cell``, ``rnn_relu_cell``) are written with tensor ops: they serve the ``*Cell``
modules and are the oracle (and ``create_graph`` path) of the fused layers.

>>> import tensorstein as torch
>>> x, h, c = torch.randn(2, 3), torch.zeros(2, 4), torch.zeros(2, 4)
>>> h1, c1 = lstm_cell(x, h, c, torch.randn(16, 3), torch.randn(16, 4))   # gates i, f, g, o
>>> h1.shape
tensorstein.Size([2, 4])
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..._autograd.grad_mode import STATE
from ..._autograd.graph import attach, node_type
from ..._kernels.blas import matmul
from ..._ops import unary as U
from ..._tensor import Tensor

RnnLayerBackward0 = node_type("MkldnnRnnLayerBackward0")


def linear(x, w, b=None):
    """``x @ w.T + b`` from tensor ops (the cells' projections)."""
    out = x.matmul(w.t())
    return out + b if b is not None else out


# ---------------------------------------------------------------- cells (tensor ops)
def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step; gates in torch's order i, f, g, o. Returns (h', c')."""
    gates = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    c2 = U.sigmoid(f) * c + U.sigmoid(i) * U.tanh(g)
    return U.sigmoid(o) * U.tanh(c2), c2


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step; gates in torch's order r, z, n."""
    xr, xz, xn = linear(x, w_ih, b_ih).chunk(3, -1)
    hr, hz, hn = linear(h, w_hh, b_hh).chunk(3, -1)
    r, z = U.sigmoid(xr + hr), U.sigmoid(xz + hz)
    n = U.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def rnn_tanh_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    return U.tanh(linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh))


def rnn_relu_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    return U.relu(linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh))


def _layer_composite(mode, x, hx, w_ih, w_hh, b_ih, b_hh, reverse):
    """The fused layer's result from the cells (same packed layout)."""
    from ..._ops.shape import stack
    steps = range(x._data.shape[0] - 1, -1, -1) if reverse else range(x._data.shape[0])
    outs = [None] * x._data.shape[0]
    if mode == "LSTM":
        h, c = hx
        for t in steps:
            h, c = lstm_cell(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
            outs[t] = h
        return stack(outs + [c], 0)
    h = hx[0]
    cell = {"GRU": gru_cell, "RNN_TANH": rnn_tanh_cell, "RNN_RELU": rnn_relu_cell}[mode]
    for t in steps:
        h = cell(x[t], h, w_ih, w_hh, b_ih, b_hh)
        outs[t] = h
    return stack(outs, 0)


# ---------------------------------------------------------------- fused NumPy recurrences
USE_NUMBA = True  # the fused Numba LSTM layer (_lstm_kernels); False runs the NumPy oracle below


def _kernels(dtype):
    """The fused LSTM module for float32/float64, or None (the NumPy path)."""
    if not USE_NUMBA or dtype not in (np.float32, np.float64):
        return None
    from . import _lstm_kernels
    return _lstm_kernels


SERIAL_STEPS = True  # per-step GEMMs on one BLAS thread (the big GEMMs keep every thread)


def serial_blas():
    """Context for a recurrence: one BLAS thread. Its GEMMs are small (B x H) and sequential; with two
    BLAS threads they synchronise every step and, on a loaded machine, stall (measured 40x slower)."""
    from ..._kernels.parallel import blas_threads, get_num_threads
    return blas_threads(1) if SERIAL_STEPS and get_num_threads() > 1 else contextlib.nullcontext()


def _sigmoid(a):
    out = np.negative(a)
    np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def _lstm_forward(xp, h, c, w_hh_t):
    """xp (T, B, 4H) projected inputs in processing order -> hs (T+1, B, H) with h0, cs, acts, tanh(c)."""
    T, B, G = xp.shape
    H = G // 4
    hs = np.empty((T + 1, B, H), xp.dtype)
    cs = np.empty((T + 1, B, H), xp.dtype)
    acts = np.empty((T, B, G), xp.dtype)
    tcs = np.empty((T, B, H), xp.dtype)
    hs[0], cs[0] = h, c
    for t in range(T):
        a = acts[t]
        matmul(hs[t], w_hh_t, out=a)
        a += xp[t]
        a[:, :2 * H] = _sigmoid(a[:, :2 * H])
        np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
        a[:, 3 * H:] = _sigmoid(a[:, 3 * H:])
        ct = cs[t + 1]
        np.multiply(a[:, H:2 * H], cs[t], out=ct)
        ct += a[:, :H] * a[:, 2 * H:3 * H]
        np.tanh(ct, out=tcs[t])
        np.multiply(a[:, 3 * H:], tcs[t], out=hs[t + 1])
    return hs, cs, acts, tcs


def _lstm_backward(gh, gc, hs, cs, acts, tcs, w_hh):
    """gh (T, B, H) output grads in processing order, gc (B, H) -> dgates (T, B, 4H), dh0, dc0."""
    T, B, G = acts.shape
    H = G // 4
    dgates = np.empty_like(acts)
    dh = np.zeros((B, H), acts.dtype)
    dc = np.array(gc, dtype=acts.dtype)  # a copy: updated in place
    for t in range(T - 1, -1, -1):
        a, d = acts[t], dgates[t]
        dh += gh[t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        tc = tcs[t]
        dc += dh * o * (1 - tc * tc)
        d[:, 3 * H:] = dh * tc * o * (1 - o)
        d[:, :H] = dc * g * i * (1 - i)
        d[:, H:2 * H] = dc * cs[t] * f * (1 - f)
        d[:, 2 * H:3 * H] = dc * i * (1 - g * g)
        dc *= f
        matmul(d, w_hh, out=dh)
    return dgates, dh, dc


def _gru_forward(xp, h, w_hh_t, b_hh):
    T, B, G = xp.shape
    H = G // 3
    hs = np.empty((T + 1, B, H), xp.dtype)
    rz = np.empty((T, B, 2 * H), xp.dtype)
    ns = np.empty((T, B, H), xp.dtype)
    hns = np.empty((T, B, H), xp.dtype)
    hs[0] = h
    for t in range(T):
        hp = matmul(hs[t], w_hh_t)
        if b_hh is not None:
            hp += b_hh
        rz[t] = _sigmoid(xp[t, :, :2 * H] + hp[:, :2 * H])
        hns[t] = hp[:, 2 * H:]
        n = ns[t]
        np.multiply(rz[t, :, :H], hns[t], out=n)
        n += xp[t, :, 2 * H:]
        np.tanh(n, out=n)
        z = rz[t, :, H:]
        hs[t + 1] = n + z * (hs[t] - n)
    return hs, rz, ns, hns


def _gru_backward(gh, hs, rz, ns, hns, w_hh):
    """-> dxp (T, B, 3H) (input-projection grads), dhp (T, B, 3H) (hidden-projection grads), dh0."""
    T, B, H = ns.shape
    dxp = np.empty((T, B, 3 * H), ns.dtype)
    dhp = np.empty((T, B, 3 * H), ns.dtype)
    dh = np.zeros((B, H), ns.dtype)
    for t in range(T - 1, -1, -1):
        r, z, n = rz[t, :, :H], rz[t, :, H:], ns[t]
        dh += gh[t]
        dn = dh * (1 - z) * (1 - n * n)
        dxp[t, :, :H] = dn * hns[t] * r * (1 - r)
        dxp[t, :, H:2 * H] = dh * (hs[t] - n) * z * (1 - z)
        dxp[t, :, 2 * H:] = dn
        dhp[t, :, :2 * H] = dxp[t, :, :2 * H]
        np.multiply(dn, r, out=dhp[t, :, 2 * H:])
        dh *= z
        dh += matmul(dhp[t], w_hh)
    return dxp, dhp, dh


def _rnn_forward(xp, h, w_hh_t, relu):
    T, B, H = xp.shape
    hs = np.empty((T + 1, B, H), xp.dtype)
    hs[0] = h
    for t in range(T):
        a = hs[t + 1]
        matmul(hs[t], w_hh_t, out=a)
        a += xp[t]
        if relu:
            np.maximum(a, 0, out=a)
        else:
            np.tanh(a, out=a)
    return hs


def _rnn_backward(gh, hs, w_hh, relu):
    T, B, H = gh.shape
    dpre = np.empty_like(gh)
    dh = np.zeros((B, H), gh.dtype)
    for t in range(T - 1, -1, -1):
        dh += gh[t]
        y = hs[t + 1]
        np.multiply(dh, (y > 0) if relu else (1 - y * y), out=dpre[t])
        matmul(dpre[t], w_hh, out=dh)
    return dpre, dh


def rnn_layer(mode, x, hx, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """One direction of one layer. x (T, B, I); hx = (h0,) or (h0, c0) for LSTM, each (B, H).

    Returns (T, B, H) outputs in time order, for LSTM (T+1, B, H) with c_T appended.
    """
    xd, w, wh = x._data, w_ih._data, w_hh._data
    T, B, _ = xd.shape
    xr = xd[::-1] if reverse else xd
    bias = None
    if b_ih is not None:
        bias = b_ih._data + b_hh._data if mode != "GRU" else b_ih._data
    h0 = hx[0]._data
    k = _kernels(xd.dtype) if mode == "LSTM" else None
    if k is None:
        xp = matmul(xr.reshape(T * B, -1), w.T).reshape(T, B, -1)  # the input projection of every step: one GEMM
        if bias is not None:
            xp += bias
    if k is not None:  # the gate-major fused layer: hs is (H, (T+1)*B), cs (T+1, H, B)
        hs, cs, acts, tcs = k.lstm_forward(xr, w, wh, bias, h0, hx[1]._data, serial_blas)
        hseq = hs.reshape(-1, T + 1, B).transpose(1, 2, 0)[1:]  # (T, B, H)
        out = np.concatenate([hseq[::-1] if reverse else hseq, cs[-1:].transpose(0, 2, 1)], 0)
    elif mode == "LSTM":
        with serial_blas():
            hs, cs, acts, tcs = _lstm_forward(xp, h0, hx[1]._data, wh.T)
        out = np.concatenate([hs[1:][::-1] if reverse else hs[1:], cs[-1:]], 0)
    elif mode == "GRU":
        with serial_blas():
            hs, rz, ns, hns = _gru_forward(xp, h0, wh.T, b_hh._data if b_hh is not None else None)
        out = hs[1:][::-1] if reverse else hs[1:]
    else:
        with serial_blas():
            hs = _rnn_forward(xp, h0, wh.T, mode == "RNN_RELU")
        out = hs[1:][::-1] if reverse else hs[1:]
    res = Tensor._make(np.ascontiguousarray(out))
    tensors = (x,) + tuple(hx) + (w_ih, w_hh, b_ih, b_hh)
    if not (STATE.enabled and any(t is not None and t.requires_grad for t in tensors)):
        return res

    def backward(g):
        if STATE.enabled:
            return _composite_grads(mode, x, hx, w_ih, w_hh, b_ih, b_hh, reverse, tensors, g)
        gd = g._data
        gh = gd[:T][::-1] if reverse else gd[:T]
        dhh = None
        if k is not None:
            with serial_blas():
                dg, dh0, dc0 = k.lstm_backward(gh, gd[T], hs, cs, acts, tcs, wh)  # dg (4H, T*B)
            dx = matmul(dg.T, w).reshape(T, B, -1)
            gx = Tensor._make(np.ascontiguousarray(dx[::-1] if reverse else dx))
            gw_ih = Tensor._make(matmul(dg, xr.reshape(T * B, -1)))
            gw_hh = Tensor._make(matmul(dg, hs[:, :T * B].T))
            gb = dg.sum(1) if b_ih is not None else None
            return (gx, Tensor._make(np.ascontiguousarray(dh0)), Tensor._make(np.ascontiguousarray(dc0)),
                    gw_ih, gw_hh) + ((None, None) if gb is None else (Tensor._make(gb), Tensor._make(gb.copy())))
        with serial_blas():
            if mode == "LSTM":
                dp, dh0, dc0 = _lstm_backward(gh, gd[T], hs, cs, acts, tcs, wh)
                dstate = (dh0, dc0)
            elif mode == "GRU":
                dp, dhh, dh0 = _gru_backward(gh, hs, rz, ns, hns, wh)
                dstate = (dh0,)
            else:
                dp, dh0 = _rnn_backward(gh, hs, wh, mode == "RNN_RELU")
                dstate = (dh0,)
        dp2 = dp.reshape(T * B, -1)
        dh2 = dp2 if dhh is None else dhh.reshape(T * B, -1)
        dx = matmul(dp2, w).reshape(T, B, -1)
        gx = Tensor._make(np.ascontiguousarray(dx[::-1] if reverse else dx))
        gw_ih = Tensor._make(matmul(dp2.T, xr.reshape(T * B, -1)))
        gw_hh = Tensor._make(matmul(dh2.T, hs[:T].reshape(T * B, -1)))
        gb_ih = Tensor._make(dp2.sum(0)) if b_ih is not None else None
        gb_hh = Tensor._make(dh2.sum(0)) if b_hh is not None else None
        return (gx,) + tuple(Tensor._make(s) for s in dstate) + (gw_ih, gw_hh, gb_ih, gb_hh)

    return attach(res, RnnLayerBackward0, backward, tensors, tuple(t for t in tensors if t is not None))


def _composite_grads(mode, x, hx, w_ih, w_hh, b_ih, b_hh, reverse, tensors, g):
    from ..._autograd.grad_mode import enable_grad
    from ..._autograd.graph import run_backward
    with enable_grad():
        out = _layer_composite(mode, x, hx, w_ih, w_hh, b_ih, b_hh, reverse)
    ins = [t for t in tensors if t is not None and t.requires_grad]
    it = iter(run_backward((out,), (g,), True, True, inputs=ins, allow_unused=True))
    return tuple(next(it) if t is not None and t.requires_grad else None for t in tensors)
