"""InstanceNormalization: each channel of each sample of `(N, C, ...)` is normalised to zero
mean and unit variance over its spatial elements, then scaled and shifted by `scale[c]` and
`B[c]`; statistics in f32 (f64 for f64)."""

import math

from hologram.compiler.context import OpContext
from hologram.isa.dtypes import DType
from hologram.onnx.ops._reduce_norm import RowNorm, launch_row_norm
from hologram.onnx.ops._reduce_rows import float_tensors
from hologram.onnx.registry import onnx_op


@onnx_op("InstanceNormalization", since=1)
def instance_normalization(ctx: OpContext) -> None:
    """One row per (sample, channel)."""
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    float_tensors(ctx, x, scale, bias)
    if x.rank < 2:
        raise ctx.error(f"takes a tensor of rank 2 or more, got shape {list(x.shape)}")
    channels = x.shape[1]
    if scale.size != channels or bias.size != channels:
        raise ctx.error(f"scale and B must have {channels} elements (one per channel)")
    out = ctx.output(0, x.shape, x.elem)
    spatial = math.prod(x.shape[2:])
    norm = RowNorm(x.shape[0] * channels, spatial, channels, 1, spatial, per_element=False)
    compute = DType.F64 if x.dtype == DType.F64 else DType.F32
    if out.size:
        launch_row_norm(ctx, norm, x, scale, bias, out, compute)
