"""AffineGrid (opset 20): the sampling grid of a batch of 2-D or 3-D affine transforms.

For output size `(N, C, H, W)` (or `(N, C, D, H, W)`), point `(h, w)` of batch `n` is
`theta[n] @ (x_w, y_h, 1)`, where `x_w` and `y_h` are the normalised coordinates of the
pixel in `[-1, 1]`: the corner pixels' centres with `align_corners`, else their outer edges.
The grid lists the coordinates innermost axis first (x, y[, z]), as GridSample reads them.
"""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op


@hg.func
def onnx_affine_base(k, size, align):
    """The normalised coordinate of pixel `k` of an axis of `size` pixels (float64)."""
    step = 2.0 / hg.float64(size)
    value = -1.0 + step / 2 + hg.float64(k) * step
    if align:
        value = -1.0
        if size > 1:
            value = -1.0 + hg.float64(k) * (2.0 / hg.float64(size - 1))
    return value


@hg.kernel
def onnx_affine_grid(
    theta: hg.Array,
    grid: hg.Array,
    n: hg.int64,
    dims: hg.Array[hg.int64],
    rank: hg.Const[int],
    align: hg.Const[bool],
):
    """Lane `o < n` writes grid element `o = point * rank + j`: coordinate `j` of a point of
    the `rank` spatial `dims`, computed in float64."""
    o = hg.int64(hg.global_id())
    if o < n:
        j = o % rank
        point = o // rank
        rest = point
        row = (point // (dims[0] * dims[1] * dims[2])) * rank * (rank + 1) + j * (rank + 1)
        acc = hg.float64(theta[row + rank])
        for a in range(rank - 1, -1, -1):
            size = dims[3 - rank + a]
            k = rest % size
            rest = rest // size
            acc += hg.float64(theta[row + rank - 1 - a]) * onnx_affine_base(k, size, align)
        grid[o] = acc


@onnx_op("AffineGrid", since=20)
def affine_grid(ctx: OpContext) -> None:
    """The grid of theta input 0 for the output size input 1 (see the module docstring)."""
    theta = ctx.input(0)
    size = ctx.ints(1)
    if len(size) not in (4, 5):
        raise ctx.error(f"size must have 4 or 5 values, got {size}")
    rank = len(size) - 2
    batch = size[0]
    if theta.shape != (batch, rank, rank + 1):
        raise ctx.error(f"theta must have shape {(batch, rank, rank + 1)}, got {theta.shape}")
    if theta.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
        raise ctx.unsupported(f"takes float tensors, got {types.elem_name(theta.elem)}")
    spatial = size[2:]
    out = ctx.output(0, (batch, *spatial, rank), theta.elem)
    if out.size == 0:
        return
    dims = [1] * (3 - rank) + spatial
    ctx.launch(
        onnx_affine_grid,
        math.ceil(out.size / 256),
        256,
        [
            theta,
            out,
            out.size,
            ctx.constant(np.array(dims, np.int64)),
            rank,
            bool(ctx.attr("align_corners", 0)),
        ],
    )
