"""MaxUnpool: the inverse of MaxPool with indices: zeros, except that each input element goes
to the position its index names in the unpooled shape (`(in - 1) * stride + kernel - pads`);
a given `output_shape` holds that shape at its start, zero-padded."""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._nn_geometry import ints_attr
from hologram.onnx.ops._nn_kernels import BLOCK, fill, row_major_strides
from hologram.onnx.ops.op_max_pool import MAX_POOL_TYPES
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_max_unpool(
    x: hg.Array,
    indices: hg.Array,
    out: hg.Array,
    total: hg.int64,
    size: hg.int64,
    table: hg.Array[hg.int64],
    rank: hg.int32,
):
    """For i < total, x[i] goes to the output element at the coordinates that the flat
    position indices[i] < size has in the unpooled shape `table[:rank]`, placed by the output
    strides `table[rank:2 * rank]` (skipped where the output is smaller)."""
    i = hg.int64(hg.global_id())
    if i < total:
        at = hg.int64(indices[i])
        if at >= 0 and at < size:
            target = hg.int64(0)
            inside = True
            for d in range(rank - 1, -1, -1):
                extent = table[d]
                quotient = at // extent
                coordinate = at - quotient * extent
                at = quotient
                if coordinate >= table[2 * rank + d]:
                    inside = False
                target += coordinate * table[rank + d]
            if inside:
                out[target] = x[i]


@onnx_op("MaxUnpool", since=9)
def max_unpool(ctx: OpContext) -> None:
    """Y from X, I (int64, X's shape) and the optional output_shape input."""
    x, indices = ctx.input(0), ctx.input(1)
    if x.elem not in MAX_POOL_TYPES:
        raise ctx.unsupported(f"MaxUnpool of {types.elem_name(x.elem)} tensors")
    if indices.shape != x.shape:
        raise ctx.error(f"I has shape {indices.shape}, X has {x.shape}")
    if x.rank < 3:
        raise ctx.error(f"X must be N x C x spatial, got shape {x.shape}")
    rank = x.rank - 2
    kernel = ints_attr(ctx, "kernel_shape", rank, 0)
    strides = ints_attr(ctx, "strides", rank, 1)
    pads = ints_attr(ctx, "pads", 2 * rank, 0)
    spatial = [
        (x.shape[2 + a] - 1) * strides[a] + kernel[a] - pads[a] - pads[rank + a]
        for a in range(rank)
    ]
    unpooled = (*x.shape[:2], *spatial)
    shape = unpooled
    if ctx.has_input(2):
        shape = tuple(ctx.ints(2))
        if len(shape) != x.rank:
            raise ctx.error(f"output_shape {list(shape)} must have {x.rank} values")
    out = ctx.output(0, shape, x.elem)
    fill(ctx, out, 0)
    if x.size and out.size:
        # Indices count in the unpooled shape; a larger output_shape holds it at its start.
        table = [*unpooled, *row_major_strides(shape), *shape]
        size = math.prod(unpooled)
        constant = ctx.constant(np.array(table, np.int64))
        args = [x, indices, out, x.size, size, constant, x.rank]
        ctx.launch(onnx_max_unpool, hg.blocks(x.size, BLOCK), BLOCK, args)
