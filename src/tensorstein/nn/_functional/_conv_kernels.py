"""col2im for the convolution's input gradient as one Numba pass (instead of one NumPy scatter-add per
kernel tap over the whole input): each (sample, channel) plane of the padded input gradient stays in
cache while every tap adds into it. Batches split over the thread pool. ``conv._col2im`` (NumPy) is
its oracle.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..._kernels.parallel import parallel_chunks

_J = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}


@njit(**_J)
def _col2im2d(dcols, dxp, n0, n1, sh, sw, dh, dw):
    """dxp[n] (C, HP, WP) (zeroed) += the taps of dcols[n] (C, KH, KW, OH, OW), for n in [n0, n1)."""
    _, C, KH, KW, OH, OW = dcols.shape
    for n in range(n0, n1):
        for c in range(C):
            for kh in range(KH):
                for kw in range(KW):
                    for oh in range(OH):
                        row = dxp[n, c, oh * sh + kh * dh]
                        src = dcols[n, c, kh, kw, oh]
                        w0 = kw * dw
                        for ow in range(OW):
                            row[w0 + ow * sw] += src[ow]


def col2im(dcols, xp_shape, kshape, stride, dilation, out_sp):
    """dcols (N, C, *k, *out) (1-D or 2-D, C-contiguous) -> the padded input gradient (N, C, *padded)."""
    if len(kshape) == 1:  # 1-D as 2-D with a height-1 kernel
        n, c = dcols.shape[:2]
        d6 = dcols.reshape(n, c, 1, kshape[0], 1, out_sp[0])
        return col2im(d6, xp_shape[:2] + (1,) + tuple(xp_shape[2:]), (1,) + tuple(kshape), (1,) + tuple(stride),
                      (1,) + tuple(dilation), (1,) + tuple(out_sp)).reshape(xp_shape)
    dxp = np.zeros(xp_shape, dtype=dcols.dtype)
    dcols = np.ascontiguousarray(dcols)
    parallel_chunks(lambda a, b: _col2im2d(dcols, dxp, a, b, stride[0], stride[1], dilation[0], dilation[1]),
                    xp_shape[0], 1)
    return dxp


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


def im2col_cl(xpl, kshape, stride, dilation, out_sp):
    """Padded NHWC input (N, HP, WP, C) -> columns (N*OH*OW, KH*KW*C)."""
    n, c = xpl.shape[0], xpl.shape[3]
    cols = np.empty((n * out_sp[0] * out_sp[1], kshape[0] * kshape[1] * c), xpl.dtype)
    parallel_chunks(lambda a, b: _im2col_cl(xpl, cols, a, b, kshape[0], kshape[1], out_sp[0], out_sp[1],
                                            stride[0], stride[1], dilation[0], dilation[1]), n, 1)
    return cols


def col2im_cl(cols, xpl_shape, kshape, stride, dilation, out_sp):
    """Columns (N*OH*OW, KH*KW*C) -> the padded NHWC input gradient (N, HP, WP, C)."""
    dxpl = np.zeros(xpl_shape, cols.dtype)
    parallel_chunks(lambda a, b: _col2im_cl(cols, dxpl, a, b, kshape[0], kshape[1], out_sp[0], out_sp[1],
                                            stride[0], stride[1], dilation[0], dilation[1]), xpl_shape[0], 1)
    return dxpl
