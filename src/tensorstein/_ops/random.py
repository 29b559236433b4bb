"""Random sampling with PyTorch's CPU streams, bit for bit: the same seed gives the same tensors as torch.

torch's CPU generator is MT19937 with the standard 32-bit seeding; NumPy's ``MT19937`` seeded the legacy
way yields the same raw 32-bit words, which are then transformed exactly as ATen's CPU kernels do.

>>> _ = manual_seed(42)
>>> randint(0, 100, (4,)).tolist()
[42, 67, 76, 14]
"""
from __future__ import annotations

import os

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from . import _rng_math as M
from .creation import _finish, _finish_out, _float_dtype, _size

_DEFAULT_SEED = 67280421310721
_N = 624  # MT19937 state words
_STATE_BYTES = 5056  # sizeof(CPUGeneratorImplState)
_U64 = np.uint64
_NUMBA_RANDPERM = 20000  # randperm sizes from which the compiled swap loop pays for loading Numba


class Generator:
    """A CPU random number generator with torch's MT19937 stream and state layout.

    >>> Generator().manual_seed(0).initial_seed()
    0
    """

    def __init__(self, device="cpu"):
        from .._device import check_device
        self.device = check_device(device)
        self._bg = np.random.MT19937(0)
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed) -> Generator:
        seed = int(seed)
        if not -2 ** 63 <= seed < 2 ** 64:
            raise RuntimeError("Overflow when unpacking long long")
        seed %= 2 ** 64
        self._bg._legacy_seeding(seed & 0xFFFFFFFF)
        self._seed, self._fresh = seed, True
        self._next_double: float | None = None
        self._next_float: float | None = None
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy (53 bits, as torch) and return the seed."""
        s = int.from_bytes(os.urandom(8), "little") & (2 ** 53 - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The state as torch's ``CPUGeneratorImplState`` bytes (a uint8 tensor of 5056 elements)."""
        st = self._bg.state["state"]
        pos = int(st["pos"])
        left, nxt = (1, 0 if self._fresh else _N) if pos >= _N else (_N + 1 - pos, pos)
        buf = bytearray(_STATE_BYTES)
        np.frombuffer(buf, np.uint64, 1, 0)[0] = self._seed
        np.frombuffer(buf, np.int32, 2, 8)[:] = (left, 1)
        np.frombuffer(buf, np.uint64, 1 + _N, 16)[:] = np.concatenate(([nxt], st["key"])).astype(_U64)
        if self._next_double is not None:
            np.frombuffer(buf, np.float64, 1, 5024)[0] = self._next_double
            np.frombuffer(buf, np.int32, 1, 5040)[0] = 1
        if self._next_float is not None:
            np.frombuffer(buf, np.float32, 1, 5048)[0] = self._next_float
            buf[5052] = 1
        return Tensor._make(np.frombuffer(buf, np.uint8).copy())

    def set_state(self, new_state) -> Generator:
        if not isinstance(new_state, Tensor) or new_state.dtype is not D.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        raw = np.ascontiguousarray(new_state._data).tobytes()
        if len(raw) != _STATE_BYTES:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {_STATE_BYTES} but found the input RNG "
                               f"state size to be {len(raw)}")
        seed = int(np.frombuffer(raw, np.uint64, 1, 0)[0])
        left, seeded = (int(v) for v in np.frombuffer(raw, np.int32, 2, 8))
        words = np.frombuffer(raw, np.uint64, 1 + _N, 16)
        nxt = int(words[0]) & 0xFFFFFFFF
        if not (seeded and 0 < left <= _N and nxt <= _N):
            raise RuntimeError("Invalid mt19937 state")
        key = (words[1:] & _U64(0xFFFFFFFF)).astype(np.uint32)
        self._bg.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": _N if left == 1 else nxt}}
        self._seed, self._fresh = seed, left == 1 and nxt == 0
        valid_d = np.frombuffer(raw, np.int32, 1, 5040)[0]
        self._next_double = float(np.frombuffer(raw, np.float64, 1, 5024)[0]) if valid_d else None
        self._next_float = float(np.frombuffer(raw, np.float32, 1, 5048)[0]) if raw[5052] else None
        return self

    def __repr__(self):
        return f"<tensorstein.Generator object at {hex(id(self))}>"

    # raw words ------------------------------------------------------------
    def _raw(self, n: int) -> np.ndarray:
        """``n`` raw 32-bit words (as uint64), torch's ``random()``."""
        self._fresh = False
        return self._bg.random_raw(int(n))

    def _raw64(self, n: int) -> np.ndarray:
        """``n`` 64-bit words, torch's ``random64()``: the first 32-bit draw is the high half."""
        r = self._raw(2 * n)
        return (r[0::2] << _U64(32)) | r[1::2]


default_generator = Generator()
default_generator.seed()


def manual_seed(seed) -> Generator:
    """Seed the global generator: the same seed gives the same tensors as ``torch.manual_seed``."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    default_generator.set_state(new_state)


def _gen(generator) -> Generator:
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a Generator, got {type(generator).__name__}")
    return generator


# ---------------------------------------------------------------- floating transforms
def _unit(g: Generator, n: int, npd) -> np.ndarray:
    """``uniform_real_distribution(0, 1)``: 53 bits as float64 for double, else 24 bits as float32."""
    if npd is np.float64:
        return (g._raw64(n) & _U64(2 ** 53 - 1)).astype(np.float64) * 2.0 ** -53
    return (g._raw(n) & _U64(2 ** 24 - 1)).astype(np.float32) * np.float32(2.0 ** -24)


def _uniform_values(g, n, npd, a, b):
    """``x * (to - from) + from``, fused as torch's build does; float16/bfloat16 compute in float32 and map a
    value that rounds up to ``to`` back to ``from``."""
    x = _unit(g, n, npd)
    if npd is np.float64:
        return M.fma64(x, float(b) - float(a), float(a))
    lo, hi = np.float32(a), np.float32(b)
    v = M.fma32(x, hi - lo, lo).astype(npd)
    if npd is not np.float32:
        v[v == npd(b)] = npd(a)
    return v


def _normal_pairs(g: Generator, n: int, mean: float, std: float) -> np.ndarray:
    """n draws of ``normal_distribution<double>``: Box-Muller pairs, the sine cached in the generator."""
    out = np.empty(n, np.float64)
    k = 0
    if n and g._next_double is not None:
        out[0], g._next_double, k = g._next_double, None, 1
    m = n - k
    if m:
        pairs = (m + 1) // 2
        u = _unit(g, 2 * pairs, np.float64)
        r = np.sqrt(-2.0 * M.libm(M._LOG1P, -u[1::2]))
        theta = 2.0 * np.pi * u[0::2]
        vals = np.empty(2 * pairs)
        vals[0::2] = r * M.libm(M._COS, theta)
        vals[1::2] = r * M.libm(M._SIN, theta)
        if m % 2:
            g._next_double = float(vals[-1])
        out[k:] = vals[:m]
    return M.fma64(out, float(std), float(mean))


def _normal_values(g, shape, npd, mean, std, contiguous=True):
    """torch's ``normal_kernel``: Box-Muller over blocks of 16 uniforms, or the cached scalar path."""
    n = int(np.prod(shape, dtype=np.int64))
    if n < 16 or not contiguous:
        return _normal_pairs(g, n, mean, std).astype(npd)
    full = n // 16 * 16
    if npd is np.float64:
        fill = M.box_muller16_f64
    else:  # float16/bfloat16 run the float32 kernel, drawing only whole blocks before the tail
        fill = M.box_muller16_f32
    u = _unit(g, n if npd in (np.float32, np.float64) else full, npd)
    out = np.empty(n, npd)
    out[:full] = fill(u[:full].reshape(-1, 16), mean, std).reshape(-1)
    if n != full:
        out[n - 16:] = fill(_unit(g, 16, npd).reshape(1, 16), mean, std).reshape(-1)
    return out


def _write(self: Tensor, vals: np.ndarray) -> Tensor:
    """Fill ``self`` in memory order (TensorIterator's order for a view) and bump its version."""
    from .creation import _fill_inplace
    x = self._data
    if x.flags.c_contiguous:
        return _fill_inplace(self, vals.reshape(x.shape))
    order = sorted(range(x.ndim), key=lambda d: -abs(x.strides[d]))
    target = np.empty(x.shape, x.dtype)
    target.transpose(order)[...] = vals.reshape([x.shape[d] for d in order])
    return _fill_inplace(self, target)


_SCALAR_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
                 "float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double"}


def _scalar_name(d) -> str:
    """ATen's name of a dtype in error messages: int64 -> 'Long'."""
    return _SCALAR_NAMES[str(d).split(".")[-1]]


def _float_np(d, name):
    if not d.is_floating_point:
        raise NotImplementedError(f"\"{name}\" not implemented for '{_scalar_name(d)}'")
    return np.dtype(d.np).type


# ---------------------------------------------------------------- factories
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False):
    """Uniform samples on [0, 1), torch's stream."""
    d = _float_dtype(dtype)
    arr = _uniform_values(_gen(generator), int(np.prod(_size(size), dtype=np.int64)),
                          _float_np(d, "check_uniform_bounds"), 0.0, 1.0)
    return _finish_out(arr.reshape(_size(size)), requires_grad, device, out)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False):
    """Standard normal samples, torch's stream."""
    d = _float_dtype(dtype)
    shape = _size(size)
    arr = _normal_values(_gen(generator), shape, _float_np(d, "normal_kernel_cpu"), 0.0, 1.0)
    return _finish_out(arr.reshape(shape), requires_grad, device, out)


def _float_bounds(low, high, npd):
    """torch's ``update_from``/``update_to``: pull the bounds in to values the float dtype represents."""
    digits = {2: 11, 4: 24, 8: 53}[np.dtype(npd).itemsize] if npd is not D.bfloat16.np else 8

    def bits(v):
        return abs(v).bit_length() - 1

    lo1 = int(np.float64(npd(low + 1)))
    if lo1 < low:
        low = lo1 + (1 << (bits(low + 1) - digits + 1))
    hi1 = int(np.float64(npd(high - 1)))
    if hi1 >= high:
        high = hi1 - (1 << (bits(high - 1) - digits + 1))
    return low, high


def _int_values(g, n, low, high, npd):
    """``raw % (high - low) + low``; ranges of 2^28 or more take 64-bit words (torch's skew bound)."""
    if np.dtype(npd).kind == "f" or npd is D.bfloat16.np:
        low, high = _float_bounds(int(low), int(high), npd)
    span = int(high) - int(low)
    r = g._raw64(n) if span >= 2 ** 28 else g._raw(n)
    return ((r % _U64(span)).astype(np.int64) + np.int64(low)).astype(npd)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False,
            out=None, layout=None):
    """Integers uniform on [low, high): ``raw % (high - low) + low``, int64 unless ``dtype`` says otherwise."""
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    d = dtype or D.int64
    shape = _size((size,))
    arr = _int_values(_gen(generator), int(np.prod(shape, dtype=np.int64)), low, high, np.dtype(d.np).type)
    return _finish_out(arr.reshape(shape), requires_grad, device, out)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
             pin_memory=False):
    """A random permutation of ``0..n-1``: torch's Fisher-Yates with ``raw % (n - i)``."""
    n = int(n)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    d = dtype or D.int64
    perm = np.arange(n, dtype=np.int64)
    if n > 1:
        z = ((_gen(generator)._raw(n - 1) % np.arange(n, 1, -1, dtype=_U64)) + np.arange(n - 1, dtype=_U64))
        if n >= _NUMBA_RANDPERM:
            from .._kernels.shuffle import fisher_yates
            fisher_yates(perm, z.astype(np.int64))
        else:  # sequential swaps: each depends on the previous ones
            p = perm.tolist()
            for i, j in enumerate(z.tolist()):
                p[i], p[j] = p[j], p[i]
            perm = np.array(p, dtype=np.int64)
    return _finish_out(perm.astype(d.np), requires_grad, device, out)


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None):
    return rand(input._data.shape, generator=generator, dtype=dtype or input.dtype, device=device,
                requires_grad=requires_grad)


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None):
    return randn(input._data.shape, generator=generator, dtype=dtype or input.dtype, device=device,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None, requires_grad=False,
                 layout=None, memory_format=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, generator=generator, dtype=dtype or input.dtype,
                   device=device, requires_grad=requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False,
           out=None):
    """``normal(mean, std, size)`` with float mean/std, or element-wise with tensor mean/std."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        from .elementwise import add, mul
        m = mean if isinstance(mean, Tensor) else None
        s = std if isinstance(std, Tensor) else None
        ref = m if m is not None else s
        shape = np.broadcast_shapes(*(t._data.shape for t in (m, s) if t is not None))
        z = randn(shape, generator=generator, dtype=ref.dtype)
        return add(mul(z, std), mean)
    if size is None:
        raise TypeError("normal() missing required argument 'size'")
    t = _finish(np.empty(_size((size,)), _float_dtype(dtype).np), False, device)
    normal_(t, mean, std, generator=generator)
    return _finish_out(t._data, requires_grad, device, out)


# ---------------------------------------------------------------- in-place samplers
def normal_(self, mean=0.0, std=1.0, *, generator=None):
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    npd = _float_np(self.dtype, "normal_kernel_cpu")
    vals = _normal_values(_gen(generator), self._data.shape, npd, mean, std, self._data.flags.c_contiguous)
    return _write(self, vals)


def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kw):
    from_ = kw.pop("from", from_)
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={from_} > to={to}")
    npd = _float_np(self.dtype, "check_uniform_bounds")
    return _write(self, _uniform_values(_gen(generator), self._data.size, npd, from_, to))


_RANDOM_MOD = {"bool": 2, "uint8": 2 ** 8, "int8": 2 ** 7, "int16": 2 ** 15, "int32": 2 ** 31, "int64": 2 ** 63,
               "float16": 2 ** 11 + 1, "bfloat16": 2 ** 8 + 1, "float32": 2 ** 24 + 1, "float64": 2 ** 53 + 1}


def random_(self, from_=0, to=None, *, generator=None):
    """``random_()``: [0, 2^mantissa] or the dtype's non-negative range; ``random_(to)``; ``random_(from, to)``."""
    g, x = _gen(generator), self._data
    name = str(self.dtype).split(".")[-1]
    if to is None and from_ == 0:
        wide = name in ("int64", "float64")
        r = g._raw64(x.size) if wide else g._raw(x.size)
        vals = r & _U64(1) if name == "bool" else r % _U64(_RANDOM_MOD[name])
        return _write(self, vals.astype(x.dtype))
    if to is None:
        from_, to = 0, from_
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    return _write(self, _int_values(g, x.size, from_, to, x.dtype.type))


def bernoulli_(self, p=0.5, *, generator=None):
    """Each element 1 with probability ``p`` (a float: ``uniform<double> < p``; a tensor: per element)."""
    g, x = _gen(generator), self._data
    if isinstance(p, Tensor):
        pv = np.broadcast_to(p._data, x.shape)
        npd = np.float64 if pv.dtype == np.float64 else np.float32
        keep = _unit(g, x.size, npd) < np.ascontiguousarray(pv, dtype=npd).reshape(-1)
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        keep = _unit(g, x.size, np.float64) < float(p)
    return _write(self, keep.astype(x.dtype))


def bernoulli(input, p=None, *, generator=None, out=None):
    """A tensor like ``input`` of 0/1 draws with probabilities ``input`` (or the float ``p``)."""
    if p is None and not (input.is_floating_point()):
        raise NotImplementedError(f"\"bernoulli_tensor_cpu_p_\" not implemented for '{_scalar_name(input.dtype)}'")
    res = Tensor._make(np.empty(input._data.shape, input._data.dtype))
    bernoulli_(res, input if p is None else p, generator=generator)
    return _finish_out(res._data, False, None, out)


def exponential_(self, lambd=1.0, *, generator=None):
    """``-log1p(-u) / lambda`` with a double uniform, as torch's CPU kernel."""
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    u = _unit(_gen(generator), self._data.size, np.float64)
    vals = (-1.0 / float(lambd)) * M.libm(M._LOG1P, -u)
    return _write(self, vals.astype(self._data.dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn from the rows of ``input`` (non-negative weights), torch's algorithms.

    Without replacement (or one sample): ``topk(p / Exp(1))``; with replacement: a binary search of a double
    uniform in the normalised cumulative sums.
    """
    g, x = _gen(generator), input._data
    if x.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not np.issubdtype(x.dtype, np.floating) and x.dtype != D.bfloat16.np:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {_scalar_name(input.dtype)}")
    rows = x.reshape(-1, x.shape[-1])
    n_cat = rows.shape[1]
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > n_cat:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if not replacement or num_samples == 1:
        f = rows.astype(np.float32) if rows.dtype != np.float64 else rows
        if not (np.all(f < np.inf) and np.all(f >= 0)):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if np.any(f.sum(1) == 0):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        q = Tensor._make(np.empty(rows.shape, rows.dtype))
        exponential_(q, 1.0, generator=g)
        ratio = rows / q._data
        if num_samples == 1:
            res = np.argmax(ratio, axis=1)[:, None]
        else:
            res = np.argsort(-ratio.astype(np.float64), axis=1, kind="stable")[:, :num_samples]
    else:
        acc = np.float64 if rows.dtype == np.float64 else np.float32
        cum = np.cumsum(rows.astype(acc), axis=1, dtype=acc)
        if (rows < 0).any():
            raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
        if not np.isfinite(rows.astype(acc)).all():
            raise RuntimeError("invalid multinomial distribution (encountering probability entry = infinity or NaN)")
        total = cum[:, -1:]
        if (total <= 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        cum = (cum / total).astype(acc)
        cum[:, -1] = 1
        u = _unit(g, rows.shape[0] * num_samples, np.float64).reshape(rows.shape[0], num_samples)
        res = np.stack([np.searchsorted(c.astype(np.float64), ur, side="left") for c, ur in zip(cum, u)])
    arr = res.astype(np.int64).reshape(x.shape[:-1] + (num_samples,))
    return _finish_out(arr, False, None, out)
