"""nn.Transformer / TransformerDecoderLayer / TransformerDecoder against torch: same seed gives the same
parameters (names, shapes, values), outputs and gradients, with masks, batch_first and norm_first."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorstein as ts


def _build(L, **kw):
    L.manual_seed(0)
    return L.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16,
                            dropout=0.0, **kw)


@pytest.mark.parametrize("kw", [{}, {"batch_first": True}, {"norm_first": True, "activation": "gelu"}])
def test_transformer_matches_torch(kw):
    mt, ms = _build(torch, **kw), _build(ts, **kw)
    sd_t, sd_s = mt.state_dict(), ms.state_dict()
    assert list(sd_t) == list(sd_s)
    for k in sd_t:
        np.testing.assert_array_equal(sd_s[k].numpy(), sd_t[k].numpy(), err_msg=k)
    rng = np.random.default_rng(0)
    src = rng.standard_normal((5, 3, 8) if not kw.get("batch_first") else (3, 5, 8)).astype(np.float32)
    tgt = rng.standard_normal((4, 3, 8) if not kw.get("batch_first") else (3, 4, 8)).astype(np.float32)
    mask_t = torch.nn.Transformer.generate_square_subsequent_mask(4)
    mask_s = ts.nn.Transformer.generate_square_subsequent_mask(4)
    out_t = mt(torch.tensor(src), torch.tensor(tgt), tgt_mask=mask_t)
    out_s = ms(ts.tensor(src), ts.tensor(tgt), tgt_mask=mask_s)
    np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    up = rng.standard_normal(tuple(out_t.shape)).astype(np.float32)
    out_t.backward(torch.tensor(up))
    out_s.backward(ts.tensor(up))
    for (n, pt), (_, ps) in zip(mt.named_parameters(), ms.named_parameters()):
        np.testing.assert_allclose(ps.grad.numpy(), pt.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=n)


def test_decoder_layer_with_padding_masks_matches_torch():
    for L in (torch, ts):
        L.manual_seed(1)
    lt = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    ls = ts.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    rng = np.random.default_rng(1)
    tgt, mem = rng.standard_normal((2, 3, 8)).astype(np.float32), rng.standard_normal((2, 5, 8)).astype(np.float32)
    pad = np.array([[False, False, False, True, True], [False] * 5])
    got = ls(ts.tensor(tgt), ts.tensor(mem), memory_key_padding_mask=ts.tensor(pad))
    want = lt(torch.tensor(tgt), torch.tensor(mem), memory_key_padding_mask=torch.tensor(pad))
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_transformer_shape_errors_match_torch():
    for L in (torch, ts):
        m = L.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8)
        with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
            m(L.rand(5, 3, 8), L.rand(4, 2, 8))
        with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
            m(L.rand(5, 3, 8), L.rand(4, 3, 6))
