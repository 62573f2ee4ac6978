"""LayerNormalization (opset 17): each row of the axes from `axis` on is normalised to zero
mean and unit variance, then scaled and shifted by `Scale` and `B` (broadcast to the
normalised shape). Optional outputs `Mean` and `InvStdDev` have the input's shape with those
axes 1, in the `stash_type` element type; the statistics are computed in f32 (f64 for f64)."""

import math

from hologram.compiler.context import OpContext
from hologram.onnx.ops._reduce_norm import (
    RowNorm,
    broadcast_to,
    launch_row_norm,
    stash_dtype,
)
from hologram.onnx.ops._reduce_rows import axis_of, float_tensors
from hologram.onnx.registry import onnx_op


@onnx_op("LayerNormalization", since=17)
def layer_normalization(ctx: OpContext) -> None:
    """Normalise over the axes from `axis` (default -1) on."""
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    float_tensors(ctx, x, scale, bias)
    axis = axis_of(ctx, x.rank, -1)
    stash, compute = stash_dtype(ctx, x)
    out = ctx.output(0, x.shape, x.elem)
    stats_shape = [*x.shape[:axis], *([1] * (x.rank - axis))]
    stats = None
    if ctx.has_output(1) or ctx.has_output(2):
        stats = (ctx.output(1, stats_shape, stash), ctx.output(2, stats_shape, stash))
    normalised = tuple(x.shape[axis:])
    if out.size == 0:
        return
    scale = broadcast_to(ctx, scale, normalised)
    bias = None if bias is None else broadcast_to(ctx, bias, normalised)
    norm = RowNorm(math.prod(x.shape[:axis]), math.prod(normalised))
    launch_row_norm(ctx, norm, x, scale, bias, out, compute, stats)
