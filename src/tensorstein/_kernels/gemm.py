"""Numba kernels of the matrix products the native team runs (:mod:`.blas` plans them): each team thread
calls OpenBLAS's single-threaded ``cblas_sgemm`` / ``cblas_dgemm`` on a block, through its address.

>>> import numpy as np
>>> from tensorstein._kernels.parallel import gemm_symbols
>>> a = np.ones((2, 3), np.float32); b = np.ones((3, 2), np.float32); c = np.zeros((2, 2), np.float32)
>>> if gemm_symbols():
...     fn, lp64 = gemm_symbols()[a.dtype]
...     gemm_blocks(0, 2, np.float32(1), np.float32(0), fn, lp64, 1, 111, 111, 2, 2, 3, a.ctypes.data, 3,
...                 b.ctypes.data, 2, c.ctypes.data, 2, 1, 0, 0, 0, 4)
... else:
...     c[...] = a @ b
>>> c
array([[3., 3.],
       [3., 3.]], dtype=float32)
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["addresses", "gemm_blocks"]

_ROW_MAJOR, _NO_TRANS = 101, 111


def _cblas_call(lp64: bool):
    """An intrinsic calling ``cblas_?gemm`` at an address: (fn, order, ta, tb, m, n, k, alpha, a, lda, b, ldb,
    beta, c, ldc); the address and the three pointers come as integers, the ints are 64-bit (ILP64) or 32."""

    @intrinsic
    def call(typingctx, fn, order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        sig = types.void(fn, order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

        def codegen(context, builder, signature, args):
            i32, ptr = ir.IntType(32), ir.IntType(8).as_pointer()
            blasint = i32 if lp64 else ir.IntType(64)
            real = context.get_value_type(signature.args[7])
            kinds = [i32, i32, i32, blasint, blasint, blasint, real, ptr, blasint, ptr, blasint, real, ptr, blasint]
            fnty = ir.FunctionType(ir.VoidType(), kinds)
            values = []
            for value, kind in zip(args[1:], kinds):
                if kind is ptr:
                    values.append(builder.inttoptr(value, ptr))
                elif isinstance(kind, ir.IntType) and value.type.width != kind.width:
                    values.append(builder.trunc(value, kind) if value.type.width > kind.width
                                  else builder.sext(value, kind))
                else:
                    values.append(value)
            builder.call(builder.inttoptr(args[0], fnty.as_pointer()), values)
            return context.get_dummy_value()

        return sig, codegen

    return call


_call_lp64 = _cblas_call(True)
_call_ilp64 = _cblas_call(False)


@njit(nogil=True, cache=True)
def addresses(a, b, c):
    """The data addresses of three arrays of any layout (``x.ctypes.data`` costs ~0.75 µs each in Python)."""
    return a.ctypes.data, b.ctypes.data, c.ctypes.data


@njit(nogil=True, cache=True)
def _gemm(fn, lp64, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    if lp64:
        _call_lp64(fn, _ROW_MAJOR, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    else:
        _call_ilp64(fn, _ROW_MAJOR, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


@njit(nogil=True, cache=True)
def gemm_blocks(lo, hi, alpha, beta, fn, lp64, unit, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, n_batch, sa, sb, sc,
                size):
    """Units ``lo:hi`` of a (batched) product, byte addresses and batch strides: ``unit`` 0 whole matrices of
    the batch, 1 rows of each, 2 columns of each.  ``size``: bytes per element.  (``alpha`` comes first: the
    launchers tell argument patterns apart by the first argument's dtype.)"""
    if hi <= lo:
        return
    if unit == 0:
        for i in range(lo, hi):
            _gemm(fn, lp64, ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc)
        return
    for i in range(n_batch):
        ai, bi, ci = a + i * sa, b + i * sb, c + i * sc
        if unit == 1:  # rows lo:hi of A and C
            ao = lo * lda if ta == _NO_TRANS else lo
            _gemm(fn, lp64, ta, tb, hi - lo, n, k, alpha, ai + ao * size, lda, bi, ldb, beta, ci + lo * ldc * size,
                  ldc)
        else:  # columns lo:hi of B and C
            bo = lo if tb == _NO_TRANS else lo * ldb
            _gemm(fn, lp64, ta, tb, m, hi - lo, k, alpha, ai, lda, bi + bo * size, ldb, beta, ci + lo * size, ldc)


