"""Attention for small problems (the whole score matrix of a head fits a tile): whole heads per Numba call.

The forward and the backward of :mod:`.attention_math` (same options, same ``(out, lse)`` contract), but each
task makes one nogil call for a run of kv heads: per query head the score tile ``q k^T`` (BLAS), masking and
softmax (:mod:`.flash_tiles`), ``P @ V``; the backward recomputes ``P`` from ``lse`` and makes the four
products, ``dK`` / ``dV`` summed over the query heads of a GQA group inside the call (no races).  The kv heads
are split over the package's threads when every product is small enough for OpenBLAS to run it on one thread.
:mod:`.attention_math` stays the oracle.

    >>> import numpy as np
    >>> q = k = v = np.ones((1, 2, 4, 8), np.float32)
    >>> out, lse = small_forward(q, k, v, causal="top_left")
    >>> bool(np.allclose(out, 1)), out.shape, lse.shape
    (True, (1, 2, 4, 8), (1, 2, 4))
"""

from __future__ import annotations

import importlib.util

import numpy as np
from numba import njit

from . import native_parallel
from .attention_common import prepare, tile_needs_index_mask
from .fast_exp import FASTMATH
from .flash_tiles import bwd_dscores, bwd_probs, fwd_finalize, fwd_tile
from .parallel import get_num_threads, parallel_for

__all__ = ["small_forward", "small_backward", "takes"]

# OpenBLAS runs a GEMM of m*n*k <= 65536 * 4 on one thread.  Only such heads come here: the BLAS that Numba's
# np.dot calls (SciPy's) may be loaded after set_num_threads limited the others, so larger products would
# not honour the thread count; these run on one thread whatever it says, and split over the pool's threads
_BLAS_SERIAL_MNK = 65536 * 4
# below this many multiply-adds in all (forward), one call on the calling thread (a split costs a dispatch)
_SPLIT_MIN_WORK = 1 << 20

_J = {"fastmath": FASTMATH, "cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}
# Numba's np.dot calls SciPy's BLAS: without SciPy (not a dependency) the math path serves every problem
HAVE_SCIPY = importlib.util.find_spec("scipy") is not None


@njit(**_J)
def _scaled_copy(src, sc, dst):
    for i in range(src.shape[0]):
        for e in range(src.shape[1]):
            dst[i, e] = src[i, e] * sc


@njit(**_J)
def _fwd_units(q, k, v, out, lse, units, G, sc, need, off, left, right, mask, mask_is_bool, ninf,
               zero, qs, kc, vc, sflat, m, ll):
    L = q.shape[2]
    S = k.shape[2]
    for u in range(units.shape[0]):
        b = units[u, 0]
        hk = units[u, 1]
        kc[:] = k[b, hk]  # contiguous copies of the (possibly strided) head: BLAS operands
        vc[:] = v[b, hk]
        kT = kc.T  # (E, S), F-contiguous
        for h in range(hk * G, (hk + 1) * G):
            _scaled_copy(q[b, h], sc, qs)
            s = sflat[:L * S].reshape(L, S)
            np.dot(qs, kT, s)
            m[:] = ninf
            ll[:] = zero
            acc = out[b, h]
            fwd_tile(s, m, ll, acc, b, h, 0, 0, off, left, right, need, mask, mask_is_bool, ninf, zero)
            np.dot(s, vc, acc)
            fwd_finalize(acc, m, ll, lse[b, h], ninf, zero)


@njit(**_J)
def _bwd_units(q, k, v, out, dout, lse, dq, dk, dv, units, G, sc, need, off, left, right, mask,
               mask_is_bool, ninf, zero, qs, kc, vc, do, sflat, pflat, dvec, tk, tv):
    L = q.shape[2]
    S, Ev = v.shape[2], v.shape[3]
    for u in range(units.shape[0]):
        b = units[u, 0]
        hk = units[u, 1]
        kc[:] = k[b, hk]  # (S, E)
        vc[:] = v[b, hk]  # (S, Ev)
        kT = kc.T
        vT = vc.T  # (Ev, S)
        for h in range(hk * G, (hk + 1) * G):
            first = h == hk * G
            do[:] = dout[b, h]  # (L, Ev)
            o = out[b, h]
            for i in range(L):
                acc = do[i, 0] * o[i, 0]
                for c in range(1, Ev):
                    acc += do[i, c] * o[i, c]
                dvec[i] = acc
            _scaled_copy(q[b, h], sc, qs)
            p = sflat[:L * S].reshape(L, S)
            np.dot(qs, kT, p)
            bwd_probs(p, lse[b, h], b, h, 0, 0, off, left, right, need, mask, mask_is_bool, ninf, zero)
            if first:
                np.dot(p.T, do, dv[b, hk])
            else:
                np.dot(p.T, do, tv)
                dv[b, hk] += tv
            ds = pflat[:L * S].reshape(L, S)
            np.dot(do, vT, ds)
            bwd_dscores(p, ds, dvec)
            np.dot(ds, kc, dq[b, h])
            dq[b, h] *= sc
            if first:
                np.dot(ds.T, qs, dk[b, hk])
            else:
                np.dot(ds.T, qs, tk)
                dk[b, hk] += tk


@njit(**_J)
def _fwd_rows(lo, hi, q, k, v, out, lse, units, G, sc, need, off, left, right, ninf, zero):
    """:func:`_fwd_units` over ``units[lo:hi]`` without a mask, with scratch of its own: a team chunk."""
    L, E, S, Ev = q.shape[2], q.shape[3], v.shape[2], v.shape[3]
    dt = q.dtype
    _fwd_units(q, k, v, out, lse, units[lo:hi], G, sc, need, off, left, right, None, False, ninf, zero,
               np.empty((L, E), dt), np.empty((S, E), dt), np.empty((S, Ev), dt), np.empty(L * S, dt),
               np.empty(L, dt), np.empty(L, dt))


@njit(**_J)
def _bwd_rows(lo, hi, q, k, v, out, dout, lse, dq, dk, dv, units, G, sc, need, off, left, right, ninf, zero):
    """:func:`_bwd_units` over ``units[lo:hi]`` without a mask, with scratch of its own: a team chunk."""
    L, E, S, Ev = q.shape[2], q.shape[3], v.shape[2], v.shape[3]
    dt = q.dtype
    _bwd_units(q, k, v, out, dout, lse, dq, dk, dv, units[lo:hi], G, sc, need, off, left, right, None, False,
               ninf, zero, np.empty((L, E), dt), np.empty((S, E), dt), np.empty((S, Ev), dt), np.empty((L, Ev), dt),
               np.empty(L * S, dt), np.empty(L * S, dt), np.empty(L, dt), np.empty((S, E), dt),
               np.empty((S, Ev), dt))


def takes(spec) -> bool:
    """Whether this module takes the problem: SciPy present, float32/float64, non-empty head dims,
    one-thread-size products."""
    return HAVE_SCIPY and spec.E > 0 and spec.Ev > 0 and spec.L * spec.S * max(spec.E, spec.Ev) <= _BLAS_SERIAL_MNK


def _plan(spec, nthreads):
    """The (b, kv head) units as int64 rows, cut into runs for the pool (one run: no split).  Two runs per
    thread: a worker that wakes up late leaves its second run to the others."""
    units = np.array([(b, hk) for b in range(spec.B) for hk in range(spec.Hkv)], dtype=np.int64)
    work = spec.B * spec.H * spec.L * spec.S * (spec.E + spec.Ev)
    n = min(len(units), 2 * nthreads) if work >= _SPLIT_MIN_WORK and nthreads > 1 else 1
    bounds = [len(units) * i // n for i in range(n + 1)]
    return [units[bounds[i]:bounds[i + 1]] for i in range(n)]


def _dispatch(call, spec, threads, rows=None):
    """``call(units)`` for every run of :func:`_plan`: inline, or split over the threads (every GEMM is
    one-thread size, so BLAS needs no limit). Without a mask, ``rows(units)`` gives the team's kernel and its
    arguments (C-contiguous arrays; whole runs of units are the team's chunks, spinning threads take them
    within a microsecond); else, or where the team cannot run it, the pool's threads pull the runs (a sleeping
    pool thread takes ~30-100 µs to wake in a VM)."""
    runs = _plan(spec, int(threads or get_num_threads()))
    if len(runs) == 1:
        call(runs[0])
        return
    if rows is not None and spec.mask is None:
        units = np.concatenate(runs)
        kernel, args = rows(units)
        if native_parallel.launch_rows(kernel, len(runs), len(units), args):
            return
    parallel_for(lambda i: call(runs[i]), len(runs))


def _opts(spec):
    dt = spec.dtype
    need = tile_needs_index_mask(spec, 0, spec.L, 0, spec.S)
    return (spec.group, dt.type(spec.scale), need, spec.off, spec.left, spec.right, spec.mask,
            spec.mask_is_bool, dt.type(-np.inf), dt.type(0))


def small_forward(q, k, v, *, scale=None, causal=None, window=None, mask=None, alignment=None,
                  threads=None):
    """Attention forward, whole heads per call.  Returns ``(out (B,H,L,Ev), lse (B,H,L))``."""
    spec = prepare(q, k, v, scale=scale, causal=causal, window=window, mask=mask, alignment=alignment)
    if spec.L * spec.S * max(spec.E, spec.Ev) > _BLAS_SERIAL_MNK:
        raise ValueError("small_forward takes one-thread-size products only (see takes())")
    B, H, L, S, E, Ev, dt = spec.B, spec.H, spec.L, spec.S, spec.E, spec.Ev, spec.dtype
    if L == 0 or S == 0 or E == 0 or Ev == 0:
        return np.zeros((B, H, L, Ev), dtype=dt), np.full((B, H, L), -np.inf, dtype=dt)
    out = np.empty((B, H, L, Ev), dtype=dt)  # every row is written
    lse = np.empty((B, H, L), dtype=dt)
    q, k, v = (np.asarray(a, dtype=dt) for a in (q, k, v))
    opts = _opts(spec)

    def call(units):
        qs, kc, vc = np.empty((L, E), dtype=dt), np.empty((S, E), dtype=dt), np.empty((S, Ev), dtype=dt)
        sflat, m, ll = np.empty(L * S, dtype=dt), np.empty(L, dtype=dt), np.empty(L, dtype=dt)
        _fwd_units(q, k, v, out, lse, units, *opts, qs, kc, vc, sflat, m, ll)

    def rows(units):
        G, sc, need, off, left, right, _, _, ninf, zero = opts
        qc, kc, vc = (np.ascontiguousarray(a) for a in (q, k, v))
        return _fwd_rows, (qc, kc, vc, out, lse, units, G, sc, need, off, left, right, ninf, zero)

    _dispatch(call, spec, threads, rows)
    return out, lse


def small_backward(q, k, v, out, lse, dout, *, scale=None, causal=None, window=None, mask=None,
                   alignment=None, threads=None):
    """Attention backward from the forward's ``out`` and ``lse``.  Returns ``(dq, dk, dv)``."""
    spec = prepare(q, k, v, scale=scale, causal=causal, window=window, mask=mask, alignment=alignment)
    if spec.L * spec.S * max(spec.E, spec.Ev) > _BLAS_SERIAL_MNK:
        raise ValueError("small_backward takes one-thread-size products only (see takes())")
    B, H, Hkv, L, S, E, Ev, dt = spec.B, spec.H, spec.Hkv, spec.L, spec.S, spec.E, spec.Ev, spec.dtype
    empty = L == 0 or S == 0 or E == 0 or Ev == 0
    make = np.zeros if empty else np.empty  # the kernel writes every element (dK / dV: first head of a group)
    dq, dk, dv = make((B, H, L, E), dtype=dt), make((B, Hkv, S, E), dtype=dt), make((B, Hkv, S, Ev), dtype=dt)
    if empty:
        return dq, dk, dv
    q, k, v, out, dout, lse = (np.asarray(a, dtype=dt) for a in (q, k, v, out, dout, lse))
    opts = _opts(spec)

    def call(units):
        qs, kc, vc = np.empty((L, E), dtype=dt), np.empty((S, E), dtype=dt), np.empty((S, Ev), dtype=dt)
        do, dvec = np.empty((L, Ev), dtype=dt), np.empty(L, dtype=dt)
        sflat, pflat = np.empty(L * S, dtype=dt), np.empty(L * S, dtype=dt)
        tk, tv = np.empty((S, E), dtype=dt), np.empty((S, Ev), dtype=dt)
        _bwd_units(q, k, v, out, dout, lse, dq, dk, dv, units, *opts, qs, kc, vc, do, sflat, pflat, dvec, tk, tv)

    def rows(units):
        G, sc, need, off, left, right, _, _, ninf, zero = opts
        qc, kc, vc, oc, doc, lc = (np.ascontiguousarray(a) for a in (q, k, v, out, dout, lse))
        return _bwd_rows, (qc, kc, vc, oc, doc, lc, dq, dk, dv, units, G, sc, need, off, left, right, ninf, zero)

    _dispatch(call, spec, threads, rows)
    return dq, dk, dv
