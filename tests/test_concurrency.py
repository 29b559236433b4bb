"""Work from several threads at once gives what one thread gives: attention (the flash kernels on the shared
pool, forward and backward), fused row kernels, and sentence embeddings."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import tensorstein as ts
import tensorstein.nn.functional as F


def _run_in_threads(fn, args_list):
    results, errors = [None] * len(args_list), []

    def work(i, args):
        try:
            results[i] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def _attention(seed, with_grad):
    rng = np.random.default_rng(seed)
    q, k, v = (ts.tensor(rng.standard_normal((1, 4, 256, 64)).astype(np.float32), requires_grad=with_grad)
               for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, L, D) on the flash path
    if not with_grad:
        return (out.numpy(),)
    out.backward(ts.tensor(np.random.default_rng(seed + 100).standard_normal(out.shape).astype(np.float32)))
    return out.detach().numpy(), q.grad.numpy(), k.grad.numpy(), v.grad.numpy()


@pytest.mark.parametrize("with_grad", [False, True])
def test_concurrent_attention_equals_one_thread(with_grad):
    seeds = [(s, with_grad) for s in range(4)]
    alone = [_attention(*a) for a in seeds]
    together = _run_in_threads(_attention, seeds)
    for one, many in zip(alone, together):
        for a, b in zip(one, many):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def _rows(seed):
    rng = np.random.default_rng(seed)
    x = ts.tensor(rng.standard_normal((512, 300)).astype(np.float32), requires_grad=True)
    y = F.layer_norm(F.gelu(x), (300,)).softmax(-1)
    y.backward(ts.ones_like(y))
    return y.detach().numpy(), x.grad.numpy()


def test_concurrent_row_kernels_equal_one_thread():
    alone = [_rows(s) for s in range(4)]
    together = _run_in_threads(_rows, [(s,) for s in range(4)])
    for one, many in zip(alone, together):
        for a, b in zip(one, many):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_concurrent_encode_equals_one_thread():
    from tensorstein.models import SentenceTransformer

    model = SentenceTransformer()
    texts = [["Matrices multiply.", "A cat sleeps on the mat."], ["Attention is a softmax of scores.", "Hello"],
             ["Gradients flow backwards.", ""], ["Tensors have shapes.", "Numbers, numbers everywhere."]]
    alone = [model.encode(t) for t in texts]
    together = _run_in_threads(model.encode, [(t,) for t in texts])
    for a, b in zip(alone, together):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
