"""GridSample (opsets 16 to 22): sample an N-D input at the normalised points of a grid.

Each output element reads its point from the grid (`[-1, 1]` per axis, the last grid axis
lists the coordinates innermost spatial axis first), maps it to pixel space
(`align_corners` puts -1 and 1 on the corner pixels' centres, else on their outer edges),
and interpolates the input around it: the nearest pixel (ties to even), linear over 2 pixels
per axis, or cubic (Keys, a = -0.75) over 4. Points and taps outside the input follow
`padding_mode`: zeros, the border pixel, or a reflection at the borders.

Opsets 16 to 19 name the modes `bilinear` and `bicubic` and take only 4-D inputs; both
spellings are accepted.
"""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.registry import onnx_op

NEAREST = 0
LINEAR = 1
CUBIC = 2
ZEROS = 0
BORDER = 1
REFLECTION = 2
CUBIC_A = -0.75

_MODES = {
    "nearest": NEAREST,
    "linear": LINEAR,
    "bilinear": LINEAR,
    "cubic": CUBIC,
    "bicubic": CUBIC,
}
_PADDING = {"zeros": ZEROS, "border": BORDER, "reflection": REFLECTION}


@hg.func
def onnx_grid_reflect(x, low, high):
    """`x` reflected at `low` and `high` (as often as it takes) into `[low, high]`."""
    span = high - low
    result = x
    if span > 0:
        if x < low:
            d = low - x
            flips = hg.int64(d / span)
            r = d - flips * span
            result = low + r if flips % 2 == 0 else high - r
        elif x > high:
            d = x - high
            flips = hg.int64(d / span)
            r = d - flips * span
            result = high - r if flips % 2 == 0 else low + r
    else:
        result = low
    return result


@hg.func
def onnx_grid_low(size, align, compute):
    """The smallest coordinate inside an axis of `size` (a corner's centre, or its edge)."""
    return compute(0) if align else compute(-0.5)


@hg.func
def onnx_grid_high(size, align, compute):
    """The largest coordinate inside an axis of `size`."""
    return compute(size - 1) if align else compute(size) - 0.5


@hg.func
def onnx_grid_coordinate(g, size, align, mode, padding, compute):
    """The pixel-space coordinate of normalised coordinate `g` along an axis of `size`."""
    x = (g + 1) / 2 * compute(size - 1) if align else ((g + 1) * compute(size) - 1) / 2
    if mode == NEAREST:
        x = round(x)
    low = onnx_grid_low(size, align, compute)
    high = onnx_grid_high(size, align, compute)
    if x < low or x > high:
        if padding == BORDER:
            x = min(max(x, compute(0)), compute(size - 1))
        elif padding == REFLECTION:
            x = onnx_grid_reflect(x, low, high)
    return x


@hg.func
def onnx_grid_tap_index(x, k, mode):
    """The pixel index of tap `k` around coordinate `x`."""
    index = hg.int64(x)
    if mode == LINEAR:
        index = hg.int64(hg.floor(x)) + k
    elif mode == CUBIC:
        index = hg.int64(hg.floor(x)) - 1 + k
    return index


@hg.func
def onnx_grid_tap_weight(x, k, mode):
    """The weight of tap `k` around coordinate `x`."""
    t = x - hg.floor(x)
    w = t * 0 + 1
    if mode == LINEAR:
        w = 1 - t if k == 0 else t
    elif mode == CUBIC:
        a = CUBIC_A
        if k == 0:
            w = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
        elif k == 1:
            w = ((a + 2) * t - (a + 3)) * t * t + 1
        elif k == 2:
            w = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
        else:
            w = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a
    return w


@hg.kernel
def onnx_grid_sample(
    x: hg.Array,
    grid: hg.Array,
    out: hg.Array,
    n: hg.int64,
    channels: hg.int64,
    points: hg.Array[hg.int64],
    dims: hg.Array[hg.int64],
    compute: hg.Const[hg.dtype],
    rank: hg.Const[int],
    taps: hg.Const[int],
    mode: hg.Const[int],
    padding: hg.Const[int],
    align: hg.Const[bool],
):
    """Lane `o < n` writes output element `o = (b * channels + c) * points[0] + p`.

    `dims` holds the input's `rank` spatial sizes; `points[0]` is the number of grid points
    per batch. The `taps ** rank` neighbours are visited one after another, each axis's tap
    `k` taken from the digits of the visit number.
    """
    o = hg.int64(hg.global_id())
    if o < n:
        count = points[0]
        p = o % count
        bc = o // count
        b = bc // channels
        spatial = hg.int64(1)
        for a in range(rank):
            spatial *= dims[a]
        base = bc * spatial
        at = (b * count + p) * rank
        acc = compute(0)
        for t in range(taps**rank):
            w = compute(1)
            offset = hg.int64(0)
            stride = hg.int64(1)
            rest = t
            inside = True
            for a in range(rank - 1, -1, -1):
                k = rest % taps
                rest = rest // taps
                size = dims[a]
                g = compute(grid[at + rank - 1 - a])
                c = onnx_grid_coordinate(g, size, align, mode, padding, compute)
                index = onnx_grid_tap_index(c, k, mode)
                w = w * onnx_grid_tap_weight(c, k, mode)
                if index < 0 or index >= size:
                    if padding == ZEROS:
                        inside = False
                    elif padding == BORDER:
                        index = min(max(index, 0), size - 1)
                    else:
                        low = onnx_grid_low(size, align, compute)
                        high = onnx_grid_high(size, align, compute)
                        index = hg.int64(onnx_grid_reflect(compute(index), low, high))
                offset += index * stride
                stride *= size
            if inside:
                acc += w * compute(x[base + offset])
        out[o] = acc


@onnx_op("GridSample", since=16)
def grid_sample(ctx: OpContext) -> None:
    """Sample input 0 at the points of grid input 1 (see the module docstring)."""
    x, grid = ctx.input(0), ctx.input(1)
    mode_name = ctx.attr("mode", "linear" if ctx.opset >= 20 else "bilinear")
    padding_name = ctx.attr("padding_mode", "zeros")
    if mode_name not in _MODES or padding_name not in _PADDING:
        raise ctx.error(f"unknown mode {mode_name!r} or padding_mode {padding_name!r}")
    rank = x.rank - 2
    if rank < 1 or grid.rank != x.rank or grid.shape[0] != x.shape[0] or grid.shape[-1] != rank:
        raise ctx.error(f"grid {grid.shape} does not fit an input of shape {x.shape}")
    for ref in (x, grid):
        if ref.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
            raise ctx.unsupported(f"takes float tensors, got {types.elem_name(ref.elem)}")
    batch, channels = x.shape[:2]
    out = ctx.output(0, (batch, channels, *grid.shape[1:-1]), x.elem)
    if out.size == 0:
        return
    if x.size == 0:
        raise ctx.error(f"cannot sample the empty input {x.shape}")
    mode = _MODES[mode_name]
    taps = {NEAREST: 1, LINEAR: 2, CUBIC: 4}[mode]
    ctx.launch(
        onnx_grid_sample,
        math.ceil(out.size / 256),
        256,
        [
            x,
            grid,
            out,
            out.size,
            channels,
            ctx.constant(np.array([math.prod(grid.shape[1:-1])], np.int64)),
            ctx.constant(np.array(x.shape[2:], np.int64)),
            widened(x.dtype),
            rank,
            taps,
            mode,
            _PADDING[padding_name],
            bool(ctx.attr("align_corners", 0)),
        ],
    )
