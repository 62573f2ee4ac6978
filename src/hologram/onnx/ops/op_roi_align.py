"""RoiAlign (opsets 10 to 22): pool each region of interest to a fixed grid of bins.

Region `r` (`x1, y1, x2, y2` in input coordinates times `spatial_scale`, of image
`batch_indices[r]`) is cut into `output_height x output_width` bins; each bin averages (or,
with mode `max`, takes the largest of) `sampling_ratio x sampling_ratio` bilinear samples
(with `sampling_ratio` 0, `ceil(bin size)` samples per axis). `half_pixel` (the default from
opset 16) shifts the region by half a pixel; `output_half_pixel` (opset 10's behaviour)
does not, and makes every region at least one pixel wide.

In `max` mode each sample is the largest of its four weighted neighbours, not their sum
(as the operator has always been implemented).
"""

from __future__ import annotations

import math

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_roi_align(
    x: hg.Array,
    rois: hg.Array,
    batch_indices: hg.Array,
    out: hg.Array,
    n: hg.int64,
    channels: hg.int64,
    height: hg.int64,
    width: hg.int64,
    pooled_h: hg.int64,
    pooled_w: hg.int64,
    sampling_ratio: hg.int64,
    spatial_scale: hg.float64,
    compute: hg.Const[hg.dtype],
    half_pixel: hg.Const[bool],
    max_mode: hg.Const[bool],
):
    """Lane `o < n` writes bin `(pw, ph)` of channel `c` of region `r`, where
    `o = ((r * channels + c) * pooled_h + ph) * pooled_w + pw`."""
    o = hg.int64(hg.global_id())
    if o < n:
        pw = o % pooled_w
        ph = (o // pooled_w) % pooled_h
        c = (o // (pooled_w * pooled_h)) % channels
        r = o // (pooled_w * pooled_h * channels)
        scale = compute(spatial_scale)
        shift = compute(0.5) if half_pixel else compute(0)
        start_w = compute(rois[r * 4]) * scale - shift
        start_h = compute(rois[r * 4 + 1]) * scale - shift
        roi_w = compute(rois[r * 4 + 2]) * scale - shift - start_w
        roi_h = compute(rois[r * 4 + 3]) * scale - shift - start_h
        if not half_pixel:
            roi_w = max(roi_w, compute(1))
            roi_h = max(roi_h, compute(1))
        bin_h = roi_h / compute(pooled_h)
        bin_w = roi_w / compute(pooled_w)
        grid_h = sampling_ratio
        grid_w = sampling_ratio
        if sampling_ratio <= 0:
            grid_h = hg.int64(hg.ceil(roi_h / compute(pooled_h)))
            grid_w = hg.int64(hg.ceil(roi_w / compute(pooled_w)))
        count = max(grid_h * grid_w, 1)
        base = (hg.int64(batch_indices[r]) * channels + c) * height * width
        acc = compute(0)
        first = True
        for iy in range(grid_h):
            yy = start_h + compute(ph) * bin_h + (compute(iy) + 0.5) * bin_h / compute(grid_h)
            for ix in range(grid_w):
                xx = start_w + compute(pw) * bin_w + (compute(ix) + 0.5) * bin_w / compute(grid_w)
                value = compute(0)
                inside = not (yy < -1.0 or yy > compute(height) or xx < -1.0 or xx > compute(width))
                if inside:
                    y = max(yy, compute(0))
                    xv = max(xx, compute(0))
                    y_low = hg.int64(y)
                    x_low = hg.int64(xv)
                    y_high = y_low + 1
                    x_high = x_low + 1
                    if y_low >= height - 1:
                        y_low = height - 1
                        y_high = y_low
                        y = compute(y_low)
                    if x_low >= width - 1:
                        x_low = width - 1
                        x_high = x_low
                        xv = compute(x_low)
                    ly = y - compute(y_low)
                    lx = xv - compute(x_low)
                    hy = 1 - ly
                    hx = 1 - lx
                    v1 = hy * hx * compute(x[base + y_low * width + x_low])
                    v2 = hy * lx * compute(x[base + y_low * width + x_high])
                    v3 = ly * hx * compute(x[base + y_high * width + x_low])
                    v4 = ly * lx * compute(x[base + y_high * width + x_high])
                    value = max(v1, v2, v3, v4) if max_mode else v1 + v2 + v3 + v4
                if max_mode:
                    acc = value if first else max(acc, value)
                    first = False
                else:
                    acc += value
        if not max_mode:
            acc = acc / compute(count)
        out[o] = acc


@onnx_op("RoiAlign", since=10)
def roi_align(ctx: OpContext) -> None:
    """Pool the regions of input 1 from the feature map input 0 (see the module docstring)."""
    x, rois, batch_indices = ctx.input(0), ctx.input(1), ctx.input(2)
    if x.rank != 4:
        raise ctx.error(f"X must be 4-D, got shape {x.shape}")
    if rois.rank != 2 or rois.shape[1] != 4 or batch_indices.shape != (rois.shape[0],):
        raise ctx.error(f"rois {rois.shape} and batch_indices {batch_indices.shape} do not fit")
    if x.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
        raise ctx.unsupported(f"takes float tensors, got {types.elem_name(x.elem)}")
    default_transform = "half_pixel" if ctx.opset >= 16 else "output_half_pixel"
    transform = ctx.attr("coordinate_transformation_mode", default_transform)
    mode = ctx.attr("mode", "avg")
    if transform not in ("half_pixel", "output_half_pixel") or mode not in ("avg", "max"):
        raise ctx.error(f"unknown coordinate_transformation_mode {transform!r} or mode {mode!r}")
    pooled_h = ctx.attr("output_height", 1)
    pooled_w = ctx.attr("output_width", 1)
    channels = x.shape[1]
    out = ctx.output(0, (rois.shape[0], channels, pooled_h, pooled_w), x.elem)
    if out.size == 0:
        return
    ctx.launch(
        onnx_roi_align,
        math.ceil(out.size / 256),
        256,
        [
            x,
            rois,
            batch_indices,
            out,
            out.size,
            channels,
            x.shape[2],
            x.shape[3],
            pooled_h,
            pooled_w,
            ctx.attr("sampling_ratio", 0),
            float(ctx.attr("spatial_scale", 1.0)),
            widened(x.dtype),
            transform == "half_pixel",
            mode == "max",
        ],
    )
