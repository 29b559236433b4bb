"""The samples of ``tensorstein.nn.functional`` (imported as ``L.nn.functional`` in both libraries)."""
from __future__ import annotations

import numpy as np

from ._infra import OpInfo, S, T


def _f(name, **fixed):
    return lambda L, *args, **kwargs: getattr(L.nn.functional, name)(*args, **fixed, **kwargs)


def _x(*shape, dtype="float32", domain="real"):
    return T(shape, dtype, domain=domain)


def _targets(values):
    return T(np.array(values), "int64", grad=False)


def _probs(*shape):
    return T(np.random.default_rng(7).uniform(0.05, 0.95, shape), "float32", grad=False)


def _activation_ops():
    ops = []
    x = [S(_x(3, 4)), S(_x(2, 3, 5)), S(_x(4, dtype="float64")), S(_x())]
    for name in ("relu", "relu6", "elu", "softplus", "tanh", "sigmoid", "hardtanh", "silu", "mish", "logsigmoid"):
        ops.append(OpInfo(f"F.{name}", _f(name), x, grad=True, gradcheck=True, tol=4))
    ops.append(OpInfo("F.leaky_relu", _f("leaky_relu"), x + [S(_x(3, 4), 0.2)], grad=True, gradcheck=True))
    ops.append(OpInfo("F.gelu", _f("gelu"), x + [S(_x(3, 4), approximate="tanh")], grad=True, gradcheck=True,
                      tol=4))
    dims = [S(_x(3, 4), dim=-1), S(_x(2, 3, 5), dim=1), S(_x(4, 6, dtype="float64"), dim=0)]
    for name in ("softmax", "log_softmax", "softmin"):
        ops.append(OpInfo(f"F.{name}", _f(name), dims, grad=True, gradcheck=True, tol=4))
    ops.append(OpInfo("F.normalize", _f("normalize"), [S(_x(3, 4)), S(_x(2, 3, 5), dim=-1), S(_x(4, 3), p=1.0)],
                      grad=True, gradcheck=True, tol=4))
    return ops


def _layer_ops():
    ops = []
    ops.append(OpInfo("F.layer_norm", _f("layer_norm"), [
        S(_x(3, 4), (4,)), S(_x(2, 3, 4), (4,), _x(4), _x(4)), S(_x(2, 3, 4), (3, 4), eps=1e-3),
    ], grad=True, gradcheck=True, tol=10))
    ops.append(OpInfo("F.rms_norm", _f("rms_norm"), [S(_x(3, 4), (4,)), S(_x(2, 3, 4), (4,), _x(4))],
                      grad=True, gradcheck=True, tol=10))
    ops.append(OpInfo("F.group_norm", _f("group_norm"), [S(_x(2, 4, 3), 2), S(_x(2, 6, 5), 3, _x(6), _x(6))],
                      grad=True, gradcheck=True, tol=10))
    ops.append(OpInfo("F.linear", _f("linear"), [
        S(_x(3, 4), _x(5, 4)), S(_x(2, 3, 4), _x(5, 4), _x(5)), S(_x(4), _x(2, 4), _x(2)),
        S(_x(3, 4), _x(5, 3)),
    ], grad=True, gradcheck=True, tol=4))
    ops.append(OpInfo("F.bilinear", _f("bilinear"), [S(_x(3, 4), _x(3, 2), _x(5, 4, 2), _x(5))], grad=True,
                      gradcheck=True, tol=4))
    ops.append(OpInfo("F.embedding", _f("embedding"), [S(_targets([[0, 2], [4, 1]]), _x(5, 3))], grad=True,
                      gradcheck=True))
    # padding_idx zeroes a row's gradient on purpose: compared with torch, not with finite differences
    ops.append(OpInfo("F.embedding.padding_idx", _f("embedding"), [S(_targets([1, 3, 1]), _x(4, 2), padding_idx=1)],
                      grad=True))
    ops.append(OpInfo("F.dropout", _f("dropout"), [S(_x(3, 4), p=0.0), S(_x(3, 4), 0.5, False)], grad=True))
    ops.append(OpInfo("F.alpha_dropout", _f("alpha_dropout"), [S(_x(3, 4), 0.5, False)], grad=True))
    ops.append(OpInfo("F.one_hot", _f("one_hot"), [S(_targets([0, 2, 1])), S(_targets([[1, 0], [3, 2]]), 5)]))
    ops.append(OpInfo("F.pad", _f("pad"), [
        S(_x(3, 4), (1, 2)), S(_x(2, 3, 4), (1, 0, 2, 1), value=0.5), S(_x(2, 3, 4), (1, 1), mode="reflect"),
        S(_x(2, 3, 4), (2, 1), mode="replicate"),
    ], grad=True, gradcheck=True))
    ops.append(OpInfo("F.scaled_dot_product_attention", _f("scaled_dot_product_attention"), [
        S(_x(2, 3, 4), _x(2, 5, 4), _x(2, 5, 6)), S(_x(1, 2, 4, 8), _x(1, 2, 4, 8), _x(1, 2, 4, 8), is_causal=True),
    ], grad=True, tol=10))
    return ops


def _loss_ops():
    ops = []
    logits = [S(_x(4, 5), _targets([0, 3, 4, 1])), S(_x(4, 5), _targets([0, 3, 4, 1]), reduction="sum"),
              S(_x(2, 5, 3), _targets([[0, 1, 4], [2, 2, 3]]), reduction="none"),
              S(_x(4, 5), _targets([0, -100, 4, 1]))]
    ops.append(OpInfo("F.cross_entropy", _f("cross_entropy"),
                      logits + [S(_x(4, 5), _targets([0, 3, 4, 1]), label_smoothing=0.1)], grad=True,
                      gradcheck=True, tol=4))
    ops.append(OpInfo("F.nll_loss", _f("nll_loss"), logits, grad=True, gradcheck=True))
    pairs = [S(_x(3, 4), _x(3, 4)), S(_x(3, 4), _x(3, 4), reduction="sum"), S(_x(2, 3), _x(2, 3), reduction="none")]
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
        ops.append(OpInfo(f"F.{name}", _f(name), pairs, grad=True, gradcheck=True, tol=4))
    ops.append(OpInfo("F.binary_cross_entropy", _f("binary_cross_entropy"),
                      [S(_probs(3, 4), _probs(3, 4)), S(_probs(5), _probs(5), reduction="sum")], grad=True, tol=4))
    ops.append(OpInfo("F.binary_cross_entropy_with_logits", _f("binary_cross_entropy_with_logits"),
                      [S(_x(3, 4), _probs(3, 4)), S(_x(5), _probs(5), reduction="sum")], grad=True, gradcheck=True,
                      tol=4))
    ops.append(OpInfo("F.kl_div", _f("kl_div"), [
        S(_x(3, 4), _probs(3, 4), reduction="batchmean"), S(_x(3, 4), _x(3, 4), reduction="sum", log_target=True),
    ], grad=True, gradcheck=True, tol=4))
    return ops


def _nn_ops():
    return _activation_ops() + _layer_ops() + _loss_ops()
