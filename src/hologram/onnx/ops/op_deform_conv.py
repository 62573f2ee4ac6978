"""DeformConv: 2-D convolution whose taps are moved by learned offsets (and scaled by an
optional mask), as a deformable patch matrix and the MATMUL intrinsic.

`onnx_deform_im2col` writes the patch matrix of `_convolve.py` with each entry sampled
bilinearly at its tap's position plus its offset (zero outside the input) and multiplied by
its mask; `convolve` then runs the same products and bias epilogue as Conv.

    offset: (N, offset_group * kH * kW * 2, oH, oW), (dh, dw) pairs per tap
    mask:   (N, offset_group * kH * kW, oH, oW)
"""

from __future__ import annotations

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._convolve import ConvShape, convolve
from hologram.onnx.ops._nn_geometry import window
from hologram.onnx.ops._nn_kernels import BLOCK, compute_elem, fill
from hologram.onnx.ops.op_conv import FLOATS, check_bias
from hologram.onnx.registry import onnx_op


@hg.func
def onnx_bilinear(x, plane, height, width, h, w):
    """x's plane (height x width from `plane`) sampled at (h, w), bilinearly, zero outside."""
    top = hg.floor(h)
    left = hg.floor(w)
    dh = h - top
    dw = w - left
    row = hg.int64(top)
    col = hg.int64(left)
    value = h * 0
    if row >= 0 and row < height:
        if col >= 0 and col < width:
            value += (1 - dh) * (1 - dw) * x[plane + row * width + col]
        if col + 1 >= 0 and col + 1 < width:
            value += (1 - dh) * dw * x[plane + row * width + col + 1]
    if row + 1 >= 0 and row + 1 < height:
        if col >= 0 and col < width:
            value += dh * (1 - dw) * x[plane + (row + 1) * width + col]
        if col + 1 >= 0 and col + 1 < width:
            value += dh * dw * x[plane + (row + 1) * width + col + 1]
    return value


@hg.kernel
def onnx_deform_im2col(
    x: hg.Array,
    offset: hg.Array,
    mask: hg.Array,
    cols: hg.Array,
    lanes: hg.int64,
    geo: hg.Array[hg.int64],
    masked: hg.Const[bool],
):
    """Lane j < lanes, j = ((g * rows + r) * N + n) * oH + oh, writes patch row r of group g
    for output row oh of image n (oW entries, at `g * geo[17] + r * geo[18] + n * geo[19] +
    oh * oW` of `cols`, in its dtype). `geo`: H, W, kH, kW, strides, pads, dilations (two
    each), oH, oW, cg, C, N, channels per offset group, offset groups, the three strides."""
    j = hg.int64(hg.global_id())
    if j < lanes:
        height = geo[0]
        width = geo[1]
        k_h = geo[2]
        k_w = geo[3]
        out_h = geo[10]
        out_w = geo[11]
        cg = geo[12]
        images = geo[14]
        oh = j % out_h
        rest = j // out_h
        n = rest % images
        rest = rest // images
        rows = cg * k_h * k_w
        r = rest % rows
        g = rest // rows
        kw = r % k_w
        kh = (r // k_w) % k_h
        c = g * cg + r // (k_w * k_h)
        group = c // geo[15]
        plane = (n * geo[13] + c) * height * width
        tap = (group * k_h + kh) * k_w + kw
        pixels = out_h * out_w
        at_offset = ((n * geo[16] * k_h * k_w + tap) * 2) * pixels + oh * out_w
        at_mask = (n * geo[16] * k_h * k_w + tap) * pixels + oh * out_w
        dst = g * geo[17] + r * geo[18] + n * geo[19] + oh * out_w
        base_h = oh * geo[4] - geo[6] + kh * geo[8]
        for ow in range(out_w):
            h = cols.dtype(base_h) + offset[at_offset + ow]
            w = cols.dtype(ow * geo[5] - geo[7] + kw * geo[9]) + offset[at_offset + pixels + ow]
            value = onnx_bilinear(x, plane, height, width, h, w)
            if masked:
                value = value * mask[at_mask + ow]
            cols[dst + ow] = value


@onnx_op("DeformConv", since=19)
def deform_conv(ctx: OpContext) -> None:
    """Y from X (N x C x H x W), W, offset, and the optional B and mask."""
    x, w, offset = ctx.input(0), ctx.input(1), ctx.input(2)
    bias, mask = ctx.optional_input(3), ctx.optional_input(4)
    if x.elem not in FLOATS:
        raise ctx.unsupported(f"DeformConv of {types.elem_name(x.elem)} tensors")
    if any(r is not None and r.elem != x.elem for r in (w, offset, bias, mask)):
        raise ctx.error("X, W, offset, B and mask must share one element type")
    if x.rank != 4 or w.rank != 4:
        raise ctx.unsupported(f"DeformConv of X {x.shape} and W {w.shape} (2-D only)")
    groups = int(ctx.attr("group", 1))
    offset_groups = int(ctx.attr("offset_group", 1))
    images, channels = x.shape[:2]
    filters = w.shape[0]
    if groups < 1 or w.shape[1] * groups != channels or filters % groups:
        raise ctx.error(f"X {x.shape} and W {w.shape} do not fit group={groups}")
    if offset_groups < 1 or channels % offset_groups:
        raise ctx.error(f"offset_group={offset_groups} does not divide {channels} channels")
    kernel = ctx.attr("kernel_shape", None) or w.shape[2:]
    win = window(ctx, x.shape[2:], kernel)
    taps = win.kernel_size
    expected = (images, offset_groups * taps * 2, *win.out)
    if offset.shape != expected:
        raise ctx.error(f"offset has shape {offset.shape}, expected {expected}")
    if mask is not None and mask.shape != (images, offset_groups * taps, *win.out):
        raise ctx.error(
            f"mask has shape {mask.shape}, expected {(images, offset_groups * taps, *win.out)}"
        )
    check_bias(ctx, bias, filters)
    shape = ConvShape(images, channels, filters, groups, win)
    out = ctx.output(0, (images, filters, *win.out), x.elem)
    if out.size == 0:
        return
    compute = compute_elem(x.elem)
    p = win.out_size
    cols = ctx.scratch((shape.groups * shape.rows, images * p), compute)
    strides = shape.geometry()[-3:]
    table = [*x.shape[2:], *win.kernel, *win.strides, *win.pads_begin, *win.dilations]
    table += [*win.out, shape.cg, channels, images, channels // offset_groups, offset_groups]
    geo = ctx.constant(np.array([*table, *strides], np.int64))
    lanes = shape.groups * shape.rows * images * win.out[0]
    masked = mask is not None
    if mask is None:
        mask = ctx.constant(np.ones(1, x.dtype.numpy), x.elem)
    if x.size == 0:
        fill(ctx, cols, 0)
    else:
        args = [x, offset, mask, cols, lanes, geo, masked]
        ctx.launch(onnx_deform_im2col, hg.blocks(lanes, BLOCK), BLOCK, args)
    convolve(ctx, x, w, out, shape, compute, bias, cols=cols)
