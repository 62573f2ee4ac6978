"""ConvTranspose: the gradient of Conv with respect to its input (1-D, 2-D and 3-D), as a
MATMUL and a col2im gather.

    cols[g, (k, kd, kh, kw), (n, i)] = sum_c w[g * cg + c, k, kd, kh, kw] * x[n, g * cg + c, i]
    y[n, g * kg + k, o] = b + sum of cols over the taps (kd, kh, kw) and input positions i
                          with o = i * stride - pad + tap * dilation

The product is one MATMUL launch (the weights transposed by the intrinsic's flag; batched
over the images for one group, over the groups for one image, and over the groups of an
input copied group-major otherwise). `onnx_col2im` then sums the columns into the output,
one lane per output row, so no two lanes write one element: each tap whose input row lands
on the lane's row adds its column row along the output row, every stride-th element.
"""

from __future__ import annotations

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._conv_kernels import onnx_row_high, onnx_row_low
from hologram.onnx.ops._nn_geometry import AXES, transposed_window
from hologram.onnx.ops._nn_kernels import (
    BLOCK,
    compute_elem,
    convert,
    fill,
    gather,
    launch_matmul,
    permute,
)
from hologram.onnx.ops.op_conv import FLOATS
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_col2im(
    cols: hg.Array,
    bias: hg.Array,
    out: hg.Array,
    lanes: hg.int64,
    geo: hg.Array[hg.int64],
):
    """Lane j < lanes, j = ((n * M + m) * OD + od) * OH + oh, writes output row
    (n, m, od, oh): bias[m], then for each tap whose input row lands on it, that tap's
    column row added at every stride-th output element it reaches. `geo` is
    `Window.table3()` (input extents first, output extents at 5, 12, 19), then M, the
    column row stride and the column image stride."""
    j = hg.int64(hg.global_id())
    if j < lanes:
        in_d = geo[0]
        k_d = geo[1]
        in_h = geo[7]
        k_h = geo[8]
        in_w = geo[14]
        k_w = geo[15]
        out_d = hg.uint64(geo[5])
        out_h = hg.uint64(geo[12])
        out_w = geo[19]
        channels = hg.uint64(geo[21])
        rest = hg.uint64(j)
        oh = hg.int64(rest % out_h)
        rest = rest // out_h
        od = hg.int64(rest % out_d)
        rest = rest // out_d
        m = hg.int64(rest % channels)
        n = hg.int64(rest // channels)
        step = geo[16]
        dst = j * out_w
        b = out.dtype(bias[m])
        for ow in range(out_w):
            out[dst + ow] = b
        for kd in range(k_d):
            td = od + geo[4] - kd * geo[3]
            id_ = td // geo[2]
            if td >= 0 and id_ * geo[2] == td and id_ < in_d:
                for kh in range(k_h):
                    th = oh + geo[11] - kh * geo[10]
                    ih = th // geo[9]
                    if th >= 0 and ih * geo[9] == th and ih < in_h:
                        for kw in range(k_w):
                            tap = (kd * k_h + kh) * k_w + kw
                            src = (m * k_d * k_h * k_w + tap) * geo[22] + n * geo[23]
                            src += (id_ * in_h + ih) * in_w
                            # input iw reaches output ow = iw * step + start
                            start = kw * geo[17] - geo[18]
                            low = onnx_row_low(start, step, in_w)
                            high = onnx_row_high(start, step, out_w, in_w, low)
                            target = dst + start
                            for iw in range(low, high):
                                out[target + iw * step] += cols[src + iw]


@onnx_op("ConvTranspose", since=1)
def conv_transpose(ctx: OpContext) -> None:
    """Y = conv_transpose(X, W) + B; W is C x M/group x kernel."""
    x, w = ctx.input(0), ctx.input(1)
    bias = ctx.optional_input(2)
    if x.elem not in FLOATS:
        raise ctx.unsupported(f"ConvTranspose of {types.elem_name(x.elem)} tensors")
    for ref in (w, bias):
        if ref is not None and ref.elem != x.elem:
            raise ctx.error("X, W and B must share one element type")
    if x.rank < 3 or x.rank != w.rank:
        raise ctx.error(
            f"X {x.shape} and W {w.shape} must be N x C x spatial and C x M/group x kernel"
        )
    if x.rank - 2 > AXES:
        raise ctx.unsupported(f"{x.rank - 2}-D ConvTranspose (at most {AXES}-D)")
    groups = int(ctx.attr("group", 1))
    images, channels = x.shape[:2]
    if groups < 1 or w.shape[0] != channels or channels % groups:
        raise ctx.error(f"X {x.shape} and W {w.shape} do not fit group={groups}")
    kg = w.shape[1]
    filters = kg * groups
    if bias is not None and bias.shape != (filters,):
        raise ctx.error(f"B has shape {bias.shape}, expected ({filters},)")
    kernel = ctx.attr("kernel_shape", None) or w.shape[2:]
    if tuple(kernel) != tuple(w.shape[2:]):
        raise ctx.error(f"kernel_shape {list(kernel)} differs from W's {list(w.shape[2:])}")
    win = transposed_window(ctx, x.shape[2:], kernel)
    out = ctx.output(0, (images, filters, *win.out), x.elem)
    if out.size == 0:
        return
    compute = compute_elem(x.elem)
    cg, taps, pixels = channels // groups, win.kernel_size, win.in_size
    rows = kg * taps
    cols = ctx.scratch((images * filters * taps * pixels,), compute)
    weights = convert(ctx, w, compute)
    group_major = groups > 1 and images > 1
    if cg == 0 or pixels == 0:
        fill(ctx, cols, 0)
    elif group_major:
        # Group-major input (g, cg, N, pixels): one product per group over all images.
        grouped = permute(ctx, x, (1, 2, 0, 3), compute, (images, groups, cg, pixels))
        strides = (cg * rows, cg * images * pixels, rows * images * pixels)
        n = images * pixels
        launch_matmul(ctx, weights, grouped, cols, rows, n, cg, groups, True, False, strides)
    else:
        data = convert(ctx, x, compute)
        batch = images if groups == 1 else groups
        stride_w = 0 if groups == 1 else cg * rows
        strides = (stride_w, cg * pixels, rows * pixels)
        launch_matmul(ctx, weights, data, cols, rows, pixels, cg, batch, True, False, strides)
    if group_major:
        row_stride, image_stride = images * pixels, pixels
    else:
        row_stride, image_stride = pixels, filters * taps * pixels
    if bias is None:
        bias = ctx.constant(np.zeros(filters, out.dtype.numpy), out.elem)
    table = [*win.table3(), filters, row_stride, image_stride]
    lanes = out.size // win.out[-1]
    acc = out if out.elem == compute else ctx.scratch(out.shape, compute)
    args = [cols, bias, acc, lanes, ctx.constant(np.array(table, np.int64))]
    ctx.launch(onnx_col2im, hg.blocks(lanes, BLOCK), BLOCK, args)
    if acc is not out:
        gather(ctx, acc, out, [out.size], [1])
