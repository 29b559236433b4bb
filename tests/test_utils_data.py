"""tensorstein.utils.data against torch.utils.data: orders, batches, dtypes, worker seeding, errors."""
# ruff: noqa: B023  (the lambdas run at once, inside the loop iteration that defines them)
import collections
import random

import numpy as np
import pytest
import torch
from torch.utils import data as thd

import tensorstein as ts
from tensorstein.utils import data as tsd

Point = collections.namedtuple("Point", ["x", "y"])


def plain(x):
    """A library-neutral form of a batch: tensors become (dtype name, shape, values); containers keep their type."""
    if isinstance(x, (ts.Tensor, torch.Tensor)):
        return ("T", str(x.dtype).split(".")[-1], tuple(x.shape), x.tolist())
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__,) + tuple(plain(v) for v in x)
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [plain(v) for v in x])
    return x


def both(fn, seed=0):
    torch.manual_seed(seed)
    ts.manual_seed(seed)
    return fn(ts, tsd), fn(torch, thd)


def check(fn, seed=0):
    a, b = both(fn, seed)
    assert plain(a) == plain(b)
    return a


def epochs(m, d, n_epochs=3, between=True, **kw):
    """Batches of several epochs of a shuffled loader; global draws between epochs move the stream."""
    x = m.arange(37)
    ds = d.TensorDataset(x, x * 10)
    loader = d.DataLoader(ds, **kw)
    out = []
    for _ in range(n_epochs):
        out.append([b for b in loader])
        if between:
            out.append(m.randn(3))
    return out


@pytest.mark.parametrize("seed", [0, 1, 42, 2024])
@pytest.mark.parametrize("kw", [{"batch_size": 4, "shuffle": True},
                                {"batch_size": 5, "shuffle": True, "drop_last": True},
                                {"batch_size": 1, "shuffle": True}, {"batch_size": 8, "shuffle": False},
                                {"batch_size": None, "shuffle": True}, {"batch_size": 37, "shuffle": True}])
def test_single_process_orders_match_torch(seed, kw):
    check(lambda m, d: epochs(m, d, **kw), seed)


def test_generator_argument_and_len():
    def run(m, d):
        g = m.Generator().manual_seed(7)
        loader = d.DataLoader(d.TensorDataset(m.arange(50)), batch_size=6, shuffle=True, generator=g)
        return [len(loader)] + [[b for b in loader] for _ in range(2)] + [m.rand(2)]
    check(run)
    for kw in ({"batch_size": 6}, {"batch_size": 6, "drop_last": True}, {"batch_size": None}):
        assert len(tsd.DataLoader(list(range(50)), **kw)) == len(thd.DataLoader(list(range(50)), **kw))


class Draws:
    """Each item records the random streams of the process that fetches it."""

    def __init__(self, m, n=24):
        self.m, self.n = m, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = (ts.utils.data if self.m is ts else torch.utils.data).get_worker_info()
        wid = -1 if info is None else info.id
        seed = -1 if info is None else info.seed
        return {"i": i, "wid": wid, "seed": seed, "t": self.m.rand(2), "np": np.random.rand(),
                "py": random.random()}


@pytest.mark.parametrize("kw", [{"num_workers": 2, "batch_size": 3},
                                {"num_workers": 3, "batch_size": 2, "shuffle": True},
                                {"num_workers": 2, "batch_size": 4, "shuffle": True, "persistent_workers": True},
                                {"num_workers": 2, "batch_size": None, "prefetch_factor": 1}])
def test_workers_batches_and_seeds_match_torch(kw):
    def run(m, d):
        loader = d.DataLoader(Draws(m), **kw)
        return [[b for b in loader] for _ in range(2)] + [m.rand(1)]
    check(run, 3)


def test_worker_init_fn_and_generator():
    def run(m, d):
        def init(wid):
            m.manual_seed(100 + wid)
        g = m.Generator().manual_seed(5)
        loader = d.DataLoader(Draws(m, 10), batch_size=2, num_workers=2, worker_init_fn=init, generator=g,
                              shuffle=True)
        return list(loader)
    check(run)


class _Stream:
    """Each worker yields its own slice of 0..n-1."""

    def __init__(self, m, n=11):
        self.m, self.n = m, n

    def __iter__(self):
        info = (ts.utils.data if self.m is ts else torch.utils.data).get_worker_info()
        k, w = (1, 0) if info is None else (info.num_workers, info.id)
        return iter(range(w, self.n, k))

    def __len__(self):
        return self.n


class _TsStream(_Stream, tsd.IterableDataset):
    pass


class _TorchStream(_Stream, thd.IterableDataset):
    pass


def Stream(m, n=11):
    return (_TsStream if m is ts else _TorchStream)(m, n)


@pytest.mark.parametrize("kw", [{"batch_size": 3}, {"batch_size": 3, "num_workers": 2},
                                {"batch_size": 2, "num_workers": 3, "drop_last": True}, {"batch_size": None},
                                {"batch_size": 4, "num_workers": 2, "persistent_workers": True}])
def test_iterable_dataset(kw):
    def run(m, d):
        loader = d.DataLoader(Stream(m), **kw)
        return [list(loader), list(loader)]
    check(run)
    assert len(tsd.DataLoader(Stream(ts), batch_size=3)) == len(thd.DataLoader(Stream(torch), batch_size=3))


class Failing:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise ValueError("bad sample 2")
        return i


@pytest.mark.parametrize("workers", [0, 2])
def test_errors_from_the_dataset(workers):
    msgs = []
    for d in (tsd, thd):
        with pytest.raises(ValueError) as e:
            list(d.DataLoader(Failing(), batch_size=1, num_workers=workers))
        msgs.append(str(e.value).splitlines()[0])
    assert msgs[0] == msgs[1]
    assert "bad sample 2" in msgs[0] if workers == 0 else "Caught ValueError in DataLoader worker process" in msgs[0]


def test_default_collate_structures():
    samples = [
        [{"a": np.arange(3) + i, "b": float(i), "c": i, "s": f"s{i}", "n": Point(i, [i, i + 1])} for i in range(3)],
        [(np.float32(i), np.int64(i), True) for i in range(4)],
        [[1, 2.5], [3, 4.5]],
        [np.ones((2, 2), dtype=np.float16) * i for i in range(2)],
    ]
    for batch in samples:
        check(lambda m, d: d.default_collate(batch))
    check(lambda m, d: d.default_collate([(m.ones(2) * i, m.arange(3)) for i in range(3)]))
    for item in ({"k": np.zeros(2)}, Point(np.int32(1), 2), (np.arange(2), "x"), [np.float64(1.5)], "str", 3):
        check(lambda m, d: d.default_convert(item))


def test_default_collate_errors_match_torch():
    bad = [[np.array(["a"]), np.array(["b"])], [[1, 2], [3]], [object(), object()],
           [(torch.ones(2),), (torch.ones(3),)]]
    for batch in bad:
        with pytest.raises(Exception) as e_t:
            thd.default_collate(batch)
        conv = [tuple(ts.tensor(t.numpy()) for t in b) if isinstance(b, tuple) else b for b in batch]
        with pytest.raises(type(e_t.value)) as e_s:
            tsd.default_collate(conv)
        if not isinstance(e_t.value, RuntimeError) or "equal size" in str(e_t.value):
            assert str(e_s.value) == str(e_t.value)


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.25, 0.25, 0.5], [0.33, 0.33, 0.34], [10]])
def test_random_split(lengths):
    check(lambda m, d: [s.indices for s in d.random_split(range(10), lengths)], 5)
    check(lambda m, d: [list(s) for s in d.random_split(list(range(10)), lengths,
                                                         generator=m.Generator().manual_seed(1))])


def test_random_split_errors():
    for d in (tsd, thd):
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            d.random_split(range(10), [3, 3])
        with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
            d.random_split(range(10), [1.5, -0.5])


def test_samplers():
    check(lambda m, d: list(d.RandomSampler(range(10), replacement=True, num_samples=70)), 1)
    check(lambda m, d: list(d.RandomSampler(range(10), num_samples=25)), 1)
    check(lambda m, d: list(d.RandomSampler(range(10), generator=m.Generator().manual_seed(2))), 1)
    check(lambda m, d: list(d.SubsetRandomSampler([5, 7, 9, 11, 13])), 2)
    check(lambda m, d: list(d.WeightedRandomSampler([0.1, 0.9, 0.4, 0.7, 3.0], 12)), 3)
    check(lambda m, d: list(d.WeightedRandomSampler([0.1, 0.9, 0.4, 0.7, 3.0], 4, replacement=False)), 3)
    check(lambda m, d: list(d.BatchSampler(d.SequentialSampler(range(10)), 3, False)))
    check(lambda m, d: list(d.BatchSampler(range(10), 3, True)))
    check(lambda m, d: list(d.DataLoader(range(20), batch_size=None,
                                         sampler=d.WeightedRandomSampler(m.ones(20), 7))), 4)
    check(lambda m, d: list(d.DataLoader(range(20), batch_sampler=d.BatchSampler(d.RandomSampler(range(20)), 6,
                                                                                 False))), 4)
    assert len(tsd.BatchSampler(range(10), 3, False)) == 4 and len(tsd.BatchSampler(range(10), 3, True)) == 3


def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is compared below
        return type(e), str(e)
    return None


@pytest.mark.parametrize("make", [
    lambda d: d.RandomSampler(range(3), replacement=1),
    lambda d: d.RandomSampler(range(3), num_samples=0),
    lambda d: d.WeightedRandomSampler([1.0], 0),
    lambda d: d.WeightedRandomSampler([[1.0]], 2),
    lambda d: d.BatchSampler(range(3), 0, False),
    lambda d: d.BatchSampler(range(3), 2, 1),
    lambda d: d.DataLoader(range(3), num_workers=-1),
    lambda d: d.DataLoader(range(3), prefetch_factor=2),
    lambda d: d.DataLoader(range(3), persistent_workers=True),
    lambda d: d.DataLoader(range(3), sampler=[0, 1], shuffle=True),
    lambda d: d.DataLoader(range(3), batch_sampler=[[0]], batch_size=2),
    lambda d: d.DataLoader(range(3), batch_size=None, drop_last=True),
    lambda d: d.DataLoader(Stream(ts if d is tsd else torch), shuffle=True),
    lambda d: d.DataLoader(range(3), timeout=-1),
    lambda d: setattr(d.DataLoader(range(3)), "batch_size", 3),
    lambda d: d.ConcatDataset([]),
    lambda d: d.ConcatDataset([range(2)])[-3],
    lambda d: d.TensorDataset((ts if d is tsd else torch).zeros(2), (ts if d is tsd else torch).zeros(3)),
    lambda d: d.Dataset()[0],
    lambda d: d.StackDataset(),
    lambda d: d.StackDataset(range(2), range(3)),
])
def test_errors_match_torch(make):
    a, b = error_of(lambda: make(tsd)), error_of(lambda: make(thd))
    assert a == b and a is not None


def test_datasets():
    def run(m, d):
        x = m.arange(12).reshape(6, 2)
        td = d.TensorDataset(x, m.arange(6))
        cat = d.ConcatDataset([td, d.Subset(td, [5, 0])])
        stack = d.StackDataset(a=range(3), b=["x", "y", "z"])
        chain = d.ChainDataset([Stream(m, 3), Stream(m, 2)])
        return [len(td), td[2], len(cat), cat[7], cat[-1], cat.cumulative_sizes, stack[1], len(stack),
                list(chain), len(chain), list(d.DataLoader(cat, batch_size=4)), (td + td)[7],
                list(Stream(m, 2) + Stream(m, 3))]
    check(run)
    assert tsd.get_worker_info() is None


def test_distributed_sampler_is_reexported_when_present():
    import importlib.util
    if importlib.util.find_spec("tensorstein.utils.data.distributed") is None:
        pytest.skip("tensorstein/utils/data/distributed.py comes with the distributed work")
    from tensorstein.utils.data.distributed import DistributedSampler
    assert tsd.DistributedSampler is DistributedSampler
