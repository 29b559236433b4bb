"""DistributedDataParallel on 2 and 3 MPI ranks against one-process torch training; DistributedSampler."""
import numpy as np
import pytest
from _dist_util import check, launch, needs_mpi

DDP_SCRIPT = r'''
import numpy as np, torch as T
import tensorstein as torch, tensorstein.distributed as dist
from tensorstein.nn.parallel import DistributedDataParallel as DDP
dist.init_process_group("mpi")
r, n = dist.get_rank(), dist.get_world_size()
MB = 3  # rows per rank per micro-batch

def models(cap):
    torch.manual_seed(r)  # a different start on every rank: DDP must copy rank 0's
    m = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.GELU(),
                            torch.nn.Linear(16, 2))
    ddp = DDP(m, bucket_cap_mb=cap)
    ref = T.nn.Sequential(T.nn.Linear(6, 16), T.nn.Tanh(), T.nn.Linear(16, 16), T.nn.GELU(), T.nn.Linear(16, 2))
    ref = ref.double()
    with T.no_grad():
        for p, q in zip(ref.parameters(), m.parameters()):
            p.copy_(T.from_numpy(q.detach().numpy().astype(np.float64)))
    return m, ddp, ref

def batch(step, rows):
    g = np.random.default_rng(step)
    return g.standard_normal((rows, 6)).astype(np.float32), g.standard_normal((rows, 2)).astype(np.float32)

def max_err(m, ref):
    return max(float(np.abs(p.detach().numpy() - q.detach().numpy()).max())
               for p, q in zip(m.parameters(), ref.parameters()))

# 1. SGD with momentum: DDP on 1/n of each batch == one process on the whole batch
for cap in (25, 0.0005):  # one bucket; several buckets (overlapped with backward)
    m, ddp, ref = models(cap)
    start = [p.detach().numpy().copy() for p in m.parameters()]
    everyone = [None] * n
    dist.all_gather_object(everyone, start)
    assert all(np.array_equal(a, b) for other in everyone for a, b in zip(other, everyone[0])), "not broadcast"
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    ropt = T.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    if cap < 1:
        assert len(ddp.reducer.buckets) > 1
    for step in range(6):
        x, y = batch(step, MB * n)
        out = ddp(torch.from_numpy(x[r * MB:(r + 1) * MB]))
        loss = torch.nn.functional.mse_loss(out, torch.from_numpy(y[r * MB:(r + 1) * MB]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        rloss = T.nn.functional.mse_loss(ref(T.from_numpy(x).double()), T.from_numpy(y).double())
        ropt.zero_grad()
        rloss.backward()
        ropt.step()
    err = max_err(m, ref)
    assert err < 1e-5, (cap, err)

# 2. overlap: a hook on the first layer's output runs while the later buckets are already started
m, ddp, ref = models(0.0005)
flags = []
x, y = batch(0, MB * n)
xs = torch.from_numpy(x[r * MB:(r + 1) * MB])

def probe(mod, inputs, out):
    out.register_hook(lambda g: flags.append((ddp.reducer.buckets[0].request is not None, ddp.reducer.active)))
m[0].register_forward_hook(probe)
ddp(xs).sum().backward()
assert flags == [(True, True)], flags  # bucket 0 in flight, reduction not yet finished
assert not ddp.reducer.active

# 3. no_sync: two micro-batches accumulated locally, synchronised on the second == one batch twice the size
m, ddp, ref = models(25)
opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
ropt = T.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
for step in range(3):
    x, y = batch(10 + step, 2 * MB * n)
    opt.zero_grad()
    for k in range(2):
        rows = slice((2 * r + k) * MB, (2 * r + k + 1) * MB)
        xb, yb = torch.from_numpy(x[rows]), torch.from_numpy(y[rows])
        if k == 0:
            with ddp.no_sync():
                (torch.nn.functional.mse_loss(ddp(xb), yb) / 2).backward()
        else:
            (torch.nn.functional.mse_loss(ddp(xb), yb) / 2).backward()
    opt.step()
    ropt.zero_grad()
    T.nn.functional.mse_loss(ref(T.from_numpy(x).double()), T.from_numpy(y).double()).backward()
    ropt.step()
err = max_err(m, ref)
assert err < 1e-5, ("no_sync", err)

# 4. find_unused_parameters: a layer only rank 0 uses, a layer nobody uses
class Branchy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
    def forward(self, x):
        h = self.a(x)
        return self.b(h) if dist.get_rank() == 0 else h
torch.manual_seed(0)
net = Branchy()
ddp = DDP(net, find_unused_parameters=True)
x = torch.ones(2, 4) * (r + 1)
ddp(x).sum().backward()
assert net.c.weight.grad is None  # unused everywhere: left alone, like torch
bw = net.b.weight.grad.numpy()
tn = T.nn.Linear(4, 4).double()
with T.no_grad():
    tn.weight.copy_(T.from_numpy(net.b.weight.detach().numpy().astype(np.float64)))
    tn.bias.copy_(T.from_numpy(net.b.bias.detach().numpy().astype(np.float64)))
ta = T.nn.Linear(4, 4).double()
with T.no_grad():
    ta.weight.copy_(T.from_numpy(net.a.weight.detach().numpy().astype(np.float64)))
    ta.bias.copy_(T.from_numpy(net.a.bias.detach().numpy().astype(np.float64)))
tx = T.ones(2, 4, dtype=T.float64)
tn(ta(tx)).sum().backward()  # rank 0's contribution; the other ranks contribute zero to b
assert np.allclose(bw, tn.weight.grad.numpy() / n, atol=1e-5), (bw, tn.weight.grad.numpy() / n)
# without find_unused_parameters the next forward reports the unfinished reduction, like torch
torch.manual_seed(0)
ddp2 = DDP(Branchy())
ddp2(x).sum().backward()
try:
    ddp2(x)
except RuntimeError as e:
    assert "Expected to have finished reduction in the prior iteration" in str(e)
else:
    raise AssertionError("unfinished reduction not reported")

# 5. module and state dict like torch's
assert ddp.module is net
assert list(ddp.state_dict()) == ["module." + k for k in net.state_dict()]
try:
    DDP(torch.nn.ReLU())
except RuntimeError as e:
    assert "doesn't have any parameter that requires a gradient" in str(e)
print("RANK-OK", r)
'''


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_ddp_matches_one_process_training(tmp_path, n):
    check(launch(tmp_path, DDP_SCRIPT, n, timeout=120), n_ok=n)


# ------------------------------------------------------------------ DistributedSampler (one process)
def _randperm_matches_torch():
    import torch

    import tensorstein as ts

    g, tg = ts.Generator(), torch.Generator()
    g.manual_seed(3)
    tg.manual_seed(3)
    return ts.randperm(50, generator=g).tolist() == torch.randperm(50, generator=tg).tolist()


CASES = [(10, 3, False), (10, 3, True), (11, 4, False), (11, 4, True), (2, 5, False), (12, 4, True)]


@pytest.mark.parametrize("n,replicas,drop_last", CASES)
@pytest.mark.parametrize("shuffle", [False, True])
def test_sampler_partitions_like_torch(n, replicas, drop_last, shuffle):
    from torch.utils.data.distributed import DistributedSampler as TS

    from tensorstein.utils.data.distributed import DistributedSampler

    ours = [DistributedSampler(range(n), replicas, r, shuffle=shuffle, seed=7, drop_last=drop_last)
            for r in range(replicas)]
    theirs = [TS(range(n), replicas, r, shuffle=shuffle, seed=7, drop_last=drop_last) for r in range(replicas)]
    for s in ours + theirs:
        s.set_epoch(2)
    got, want = [list(s) for s in ours], [list(s) for s in theirs]
    assert [len(s) for s in ours] == [len(s) for s in theirs] == [len(x) for x in got]
    flat = [i for part in got for i in part]
    if not shuffle:
        assert got == want
    else:  # the order needs torch's randperm (next test); the partition must be torch's
        assert len(set(flat)) == (len(flat) if drop_last else min(n, len(flat)))
        assert set(flat) == (set(flat) & set(range(n))) and (drop_last or set(flat) == set(range(n)))
        ours[0].set_epoch(3)
        assert list(ours[0]) != got[0] or n < 4  # a new epoch reshuffles


@pytest.mark.xfail(not _randperm_matches_torch(), reason="needs tensorstein.randperm bit-identical to torch's "
                   "(helper rngdata's work)", strict=False)
def test_sampler_shuffled_order_is_torchs():
    from torch.utils.data.distributed import DistributedSampler as TS

    from tensorstein.utils.data.distributed import DistributedSampler

    for epoch in (0, 5):
        for r in range(3):
            a, b = DistributedSampler(range(20), 3, r, seed=11), TS(range(20), 3, r, seed=11)
            a.set_epoch(epoch)
            b.set_epoch(epoch)
            assert list(a) == list(b)


def test_sampler_bad_rank():
    from tensorstein.utils.data.distributed import DistributedSampler

    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    assert np.array_equal(list(DistributedSampler(range(5), 2, 1, shuffle=False)), [1, 3, 0])
