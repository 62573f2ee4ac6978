"""RMSNormalization (opset 23): each row of the axes from `axis` on is divided by
`sqrt(mean(x^2) + epsilon)` and scaled by `scale` (broadcast to the normalised shape); the
statistics are computed in f32 (f64 for f64 or `stash_type` double)."""

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


@onnx_op("RMSNormalization", since=23)
def rms_normalization(ctx: OpContext) -> None:
    """Normalise over the axes from `axis` (default -1) on, without centring."""
    x, scale = ctx.input(0), ctx.input(1)
    float_tensors(ctx, x, scale)
    axis = axis_of(ctx, x.rank, -1)
    _, compute = stash_dtype(ctx, x)
    out = ctx.output(0, x.shape, x.elem)
    normalised = tuple(x.shape[axis:])
    if out.size == 0:
        return
    scale = broadcast_to(ctx, scale, normalised)
    norm = RowNorm(math.prod(x.shape[:axis]), math.prod(normalised), centred=False)
    launch_row_norm(ctx, norm, x, scale, None, out, compute)
