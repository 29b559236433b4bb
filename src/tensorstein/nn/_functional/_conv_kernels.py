"""Channels-last (NHWC) im2col and col2im for conv2d as Numba passes over a chunk of the batch (the caller
splits the batch over the thread pool).

Columns are (N*OH*OW, KH*KW*C): each row copies C contiguous channels per kernel tap, and col2im adds
every tap of a row back in one pass (instead of one NumPy scatter-add over the whole input per tap).
``conv._im2col`` / ``conv._col2im`` (NumPy, NCHW) are the oracle.
"""
from __future__ import annotations

from numba import njit


_J = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}


# ---------------------------------------------------------------- channels-last (NHWC) im2col / col2im
@njit(**_J)
def _im2col_cl(xpl, cols, n0, n1, KH, KW, OH, OW, sh, sw, dh, dw):
    """cols[(n, oh, ow), (kh, kw, c)] = xpl[n, oh*sh + kh*dh, ow*sw + kw*dw, c] for n in [n0, n1)."""
    C = xpl.shape[3]
    for n in range(n0, n1):
        for oh in range(OH):
            for ow in range(OW):
                dst = cols[(n * OH + oh) * OW + ow]
                for kh in range(KH):
                    for kw in range(KW):
                        src = xpl[n, oh * sh + kh * dh, ow * sw + kw * dw]
                        o = (kh * KW + kw) * C
                        for c in range(C):
                            dst[o + c] = src[c]


@njit(**_J)
def _col2im_cl(cols, dxpl, n0, n1, KH, KW, OH, OW, sh, sw, dh, dw):
    """dxpl (N, HP, WP, C) (zeroed) += the rows of cols ((n, oh, ow), (kh, kw, c)), for n in [n0, n1)."""
    C = dxpl.shape[3]
    for n in range(n0, n1):
        for oh in range(OH):
            for ow in range(OW):
                src = cols[(n * OH + oh) * OW + ow]
                for kh in range(KH):
                    for kw in range(KW):
                        dst = dxpl[n, oh * sh + kh * dh, ow * sw + kw * dw]
                        o = (kh * KW + kw) * C
                        for c in range(C):
                            dst[c] += src[o + c]


def im2col_cl(xpl, cols, n0, n1, kshape, stride, dilation, out_sp):
    """Padded NHWC input (N, HP, WP, C) -> the rows of batch items [n0, n1) of the columns
    (N*OH*OW, KH*KW*C), written into ``cols``."""
    _im2col_cl(xpl, cols, n0, n1, kshape[0], kshape[1], out_sp[0], out_sp[1], stride[0], stride[1], dilation[0],
               dilation[1])


def col2im_cl(cols, dxpl, n0, n1, kshape, stride, dilation, out_sp):
    """Columns (N*OH*OW, KH*KW*C) -> the padded NHWC input gradient of batch items [n0, n1), added into
    the zeroed ``dxpl`` (N, HP, WP, C)."""
    _col2im_cl(cols, dxpl, n0, n1, kshape[0], kshape[1], out_sp[0], out_sp[1], stride[0], stride[1], dilation[0],
               dilation[1])
