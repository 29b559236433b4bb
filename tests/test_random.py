"""tensorstein's random streams against torch's CPU streams, bit for bit."""
# ruff: noqa: B023  (the lambdas run at once, inside the loop iteration that defines them)
import math

import numpy as np
import pytest
import torch

import tensorstein as ts

pytestmark = pytest.mark.filterwarnings("ignore:.*out of bounds:UserWarning")
SIZES = list(range(1, 101)) + [127, 255, 1000, 1023, 4099]
SEEDS = [0, 1, 42, 1234, 2 ** 32 + 7, 2 ** 63 + 5]
FLOATS = ["float32", "float64", "float16", "bfloat16"]
INTS = ["int64", "int32", "int16", "int8", "uint8"]


def same(a, b):
    """Bitwise equality of a tensorstein and a torch tensor (dtype, shape and every bit)."""
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    assert tuple(a.shape) == tuple(b.shape)
    x = a.numpy().reshape(-1)
    y = (b.detach().float() if b.dtype == torch.bfloat16 else b.detach()).numpy().reshape(-1)
    if b.dtype == torch.bfloat16:
        x = x.astype(np.float32)
    np.testing.assert_array_equal(x.view(np.uint8) if x.dtype.kind == "f" else x,
                                  y.view(np.uint8) if y.dtype.kind == "f" else y)


def both(fn, seed=0):
    """Run ``fn(lib)`` after seeding each library with ``seed``."""
    torch.manual_seed(seed)
    ts.manual_seed(seed)
    return fn(ts), fn(torch)


@pytest.mark.parametrize("seed", SEEDS)
def test_rand_randn_every_size(seed):
    for n in SIZES:
        same(*both(lambda m: m.rand(n), seed))
        same(*both(lambda m: m.randn(n), seed))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", [1, 2, 7, 15, 16, 17, 31, 32, 33, 100, 1000, 4099])
def test_rand_randn_dtypes(dtype, n):
    for seed in (0, 7):
        same(*both(lambda m: m.rand(n, dtype=getattr(m, dtype)), seed))
        same(*both(lambda m: m.randn(n, dtype=getattr(m, dtype)), seed))
        same(*both(lambda m: m.randn(3, n, dtype=getattr(m, dtype)), seed))


def test_randn_large_and_shapes():
    same(*both(lambda m: m.randn(257, 129), 3))
    same(*both(lambda m: m.randn(2, 3, 5), 3))
    same(*both(lambda m: m.randn(()), 3))


def test_scalar_normal_cache_carries_across_calls():
    def draws(m):
        return [m.randn(1, dtype=m.float64) for _ in range(5)] + [m.randn(3), m.randn(1), m.randn(20)]
    for a, b in zip(*both(draws, 9)):
        same(a, b)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("bounds", [(0.0, 1.0), (-0.125, 0.125), (-1 / math.sqrt(7), 1 / math.sqrt(7)),
                                    (2.5, 3.1), (-3.0, -1.0)])
def test_uniform_(dtype, bounds):
    for n in (1, 5, 16, 1000):
        same(*both(lambda m: m.empty(n, dtype=getattr(m, dtype)).uniform_(*bounds), 11))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (0.5, 0.02), (-3.0, 2.5)])
def test_normal_(dtype, mean, std):
    for n in (1, 3, 16, 40, 1000):
        same(*both(lambda m: m.empty(n, dtype=getattr(m, dtype)).normal_(mean, std), 5))


def test_normal_on_a_transposed_view_fills_in_memory_order():
    same(*both(lambda m: m.empty(8, 5).t().normal_(), 2))
    same(*both(lambda m: m.empty(8, 5).t().uniform_(), 2))


def test_normal_function_forms():
    same(*both(lambda m: m.normal(2.0, 3.0, size=(4, 5)), 1))
    same(*both(lambda m: m.normal(m.zeros(40), 1.0), 1))


@pytest.mark.parametrize("dtype", INTS + ["float32", "float64"])
@pytest.mark.parametrize("lo,hi", [(0, 10), (-5, 5), (0, 100), (3, 2 ** 31 - 1), (0, 7)])
def test_randint(dtype, lo, hi):
    if dtype in ("int8", "uint8") and hi > 100 or dtype == "uint8" and lo < 0 or dtype == "int16" and hi > 2 ** 15:
        pytest.skip("range outside the dtype")
    for n in (1, 17, 1000):
        same(*both(lambda m: m.randint(lo, hi, (n,), dtype=getattr(m, dtype)), 3))


def test_randint_64_bit_ranges():
    for lo, hi in [(0, 2 ** 32), (0, 2 ** 40 + 3), (-2 ** 62, 2 ** 62)]:
        for seed in SEEDS[:3]:
            same(*both(lambda m: m.randint(lo, hi, (100,)), seed))
            same(*both(lambda m: m.randint(lo, hi, (33,), dtype=m.float64), seed))


def test_randint_forms_and_lesson_matrix():
    a, b = both(lambda m: m.randint(0, 100, (5, 4)), 42)
    same(a, b)
    assert a[0].tolist() == [42, 67, 76, 14]
    same(*both(lambda m: m.randint(10, (3, 3)), 1))
    same(*both(lambda m: m.randint_like(m.zeros(4, 4), 0, 9), 1))
    same(*both(lambda m: m.randint_like(m.zeros(4, 4), 9), 1))


@pytest.mark.parametrize("dtype", ["bool"] + INTS + FLOATS)
def test_random_(dtype):
    same(*both(lambda m: m.empty(200, dtype=getattr(m, dtype)).random_(), 4))
    if dtype != "bool":
        same(*both(lambda m: m.empty(200, dtype=getattr(m, dtype)).random_(0, 50), 4))
        same(*both(lambda m: m.empty(200, dtype=getattr(m, dtype)).random_(7), 4))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 100, 1000, 60000])
def test_randperm(n):
    for seed in (0, 5):
        same(*both(lambda m: m.randperm(n), seed))
    same(*both(lambda m: m.randperm(n, dtype=m.int32), 1))


def test_like_variants_and_explicit_generator():
    x = (ts.zeros(3, 17), torch.zeros(3, 17))
    same(*both(lambda m: m.rand_like(x[m is torch]), 2))
    same(*both(lambda m: m.randn_like(x[m is torch], dtype=m.float64), 2))
    ga, gb = ts.Generator().manual_seed(77), torch.Generator().manual_seed(77)
    same(ts.randn(50, generator=ga), torch.randn(50, generator=gb))
    same(ts.rand(5, generator=ga), torch.rand(5, generator=gb))
    same(ts.randperm(20, generator=ga), torch.randperm(20, generator=gb))
    same(ts.empty(9).normal_(generator=ga), torch.empty(9).normal_(generator=gb))
    assert ts.Generator().initial_seed() == torch.Generator().initial_seed() == 67280421310721
    assert ga.initial_seed() == 77


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_bernoulli_scalar_p(p, dtype):
    same(*both(lambda m: m.empty(300, dtype=getattr(m, dtype)).bernoulli_(p), 6))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bernoulli_tensor_p(dtype):
    probs = np.random.default_rng(0).random((7, 33)).astype(dtype)
    same(*both(lambda m: m.bernoulli(m.tensor(probs)), 8))
    same(*both(lambda m: m.zeros(7, 33).bernoulli_(m.tensor(probs)), 8))
    same(*both(lambda m: m.bernoulli(m.tensor(probs), 0.3), 8))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.75])
def test_dropout_masks(p):
    x = np.random.default_rng(1).standard_normal((13, 37)).astype(np.float32)
    same(*both(lambda m: m.nn.functional.dropout(m.tensor(x), p, training=True), 3))
    same(*both(lambda m: m.nn.Dropout(p)(m.tensor(x)), 3))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exponential_(dtype):
    for lam in (1.0, 0.5, 3.0):
        same(*both(lambda m: m.empty(500, dtype=getattr(m, dtype)).exponential_(lam), 2))


@pytest.mark.parametrize("replacement", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multinomial(replacement, dtype):
    w = np.random.default_rng(2).random((6, 40)).astype(dtype)
    for k in (1, 5, 40):
        for seed in (0, 3):
            same(*both(lambda m: m.multinomial(m.tensor(w), k, replacement=replacement), seed))
            same(*both(lambda m: m.multinomial(m.tensor(w[0]), k, replacement), seed))


def test_multinomial_errors_match_torch():
    for args in [([[1.0, -1.0]], 1, False), ([[0.0, 0.0]], 1, False), ([1.0, 2.0], 3, False)]:
        with pytest.raises(RuntimeError) as e_t:
            torch.multinomial(torch.tensor(args[0]), args[1], args[2])
        with pytest.raises(RuntimeError) as e_s:
            ts.multinomial(ts.tensor(args[0]), args[1], args[2])
        assert str(e_s.value) == str(e_t.value)


def test_rng_state_is_torch_layout_and_round_trips():
    torch.manual_seed(123)
    ts.manual_seed(123)
    same(ts.get_rng_state(), torch.get_rng_state())
    ts.randn(1, dtype=ts.float64)   # leaves a cached normal
    torch.randn(1, dtype=torch.float64)
    ts.rand(700)
    torch.rand(700)
    same(ts.get_rng_state(), torch.get_rng_state())
    state = ts.get_rng_state()
    a = ts.randn(3, dtype=ts.float64)
    ts.set_rng_state(state)
    same(ts.randn(3, dtype=ts.float64), torch.randn(3, dtype=torch.float64))
    assert ts.randn(3, dtype=ts.float64).tolist() != a.tolist()
    # a state written by torch drives tensorstein
    ts.set_rng_state(ts.tensor(torch.get_rng_state().numpy()))
    same(ts.rand(10), torch.rand(10))
    g = ts.Generator()
    g.set_state(ts.get_rng_state())
    same(ts.randn(30, generator=g), torch.randn(30))


def test_rng_errors_match_torch():
    for bad in (ts.zeros(5, dtype=ts.uint8), ts.zeros(5)):
        tb = torch.zeros(5, dtype=torch.uint8 if bad.dtype is ts.uint8 else torch.float32)
        with pytest.raises(Exception) as e_t:
            torch.set_rng_state(tb)
        with pytest.raises(type(e_t.value)) as e_s:
            ts.set_rng_state(bad)
        assert str(e_s.value) == str(e_t.value)
    assert ts.manual_seed(-1).initial_seed() == torch.manual_seed(-1).initial_seed()


def test_seed_is_fresh_and_reported():
    s = ts.seed()
    assert ts.initial_seed() == s and 0 <= s < 2 ** 53


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_modules_initialise_like_torch(seed):
    def build(m):
        nn = m.nn
        return [nn.Linear(7, 5), nn.Linear(64, 33, bias=False), nn.Embedding(50, 16), nn.LayerNorm(8),
                nn.MultiheadAttention(16, 4), nn.Linear(3, 1)]
    a, b = both(build, seed)
    for ma, mb in zip(a, b):
        sa, sb = ma.state_dict(), mb.state_dict()
        assert list(sa) == list(sb)
        for k in sa:
            same(sa[k], sb[k])


@pytest.mark.parametrize("name,kw", [("uniform_", {"a": -0.2, "b": 0.3}), ("normal_", {"std": 0.02}),
                                     ("xavier_uniform_", {}), ("xavier_normal_", {}),
                                     ("kaiming_uniform_", {"a": math.sqrt(5)}), ("kaiming_normal_", {}),
                                     ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
                                     ("trunc_normal_", {"std": 0.02}), ("trunc_normal_", {}),
                                     ("trunc_normal_", {"mean": 0.5, "std": 1.0, "a": -0.1, "b": 0.2}),
                                     ("orthogonal_", {})])
def test_nn_init_streams(name, kw):
    for shape in [(5, 7), (33, 4), (16, 16, 3)]:
        a, b = both(lambda m: getattr(m.nn.init, name)(m.empty(*shape), **kw), 12)
        if name == "orthogonal_":   # QR by LAPACK in each library: equal up to rounding
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
        else:
            same(a, b)
    ga, gb = ts.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    if name != "orthogonal_":
        same(getattr(ts.nn.init, name)(ts.empty(6, 6), generator=ga, **kw),
             getattr(torch.nn.init, name)(torch.empty(6, 6), generator=gb, **kw))


def test_attention_dropout_masks_match_torch():
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 4)))
    a, b = both(lambda m: m.nn.functional.scaled_dot_product_attention(m.tensor(q), m.tensor(k), m.tensor(v),
                                                                       dropout_p=0.3), 1)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)  # same mask; sums in another order


def test_random_namespace_and_fork_rng():
    def run(m):
        m.random.manual_seed(3)
        with m.random.fork_rng():
            inner = m.rand(4)
        return [inner, m.rand(4), m.random.initial_seed()]
    a, b = both(run)
    for x, y in zip(a[:2], b[:2]):
        same(x, y)
    assert a[2] == b[2] == 3
    same(a[0], a[1])


@pytest.mark.parametrize("call", [
    lambda m: m.rand(3, dtype=m.int64), lambda m: m.randn(3, dtype=m.int32),
    lambda m: m.empty(3, dtype=m.uint8).uniform_(), lambda m: m.empty(3, dtype=m.bool).normal_(),
    lambda m: m.bernoulli(m.ones(3, dtype=m.int64)), lambda m: m.multinomial(m.ones(3, dtype=m.int64), 1),
    lambda m: m.empty(3).exponential_(-1), lambda m: m.empty(3).normal_(0, -1), lambda m: m.empty(3).uniform_(2, 1),
    lambda m: m.randperm(-1), lambda m: m.empty(3).bernoulli_(1.5), lambda m: m.randint(5, 5, (2,)),
])
def test_sampler_errors_match_torch(call):
    with pytest.raises(Exception) as e_t:
        call(torch)
    with pytest.raises(type(e_t.value)) as e_s:
        call(ts)
    assert str(e_s.value) == str(e_t.value)
