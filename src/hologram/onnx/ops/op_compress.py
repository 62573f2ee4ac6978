"""Compress: the slices along an axis (or the elements) where a condition holds."""

import math

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import gather_axis, normalize_axis
from hologram.onnx.ops._index_positions import nonzero_positions
from hologram.onnx.registry import onnx_op


@onnx_op("Compress", since=9)
def compress(ctx: OpContext) -> None:
    """Keep slice `k` along `axis` (of the flattened input without one) where
    `condition[k]`; a condition shorter than the axis drops the slices past its end."""
    x = ctx.input(0)
    condition = ctx.input(1)
    axis = ctx.attr("axis", None)
    if axis is None:
        outer, size, inner = 1, x.size, 1
    else:
        axis = normalize_axis(ctx, axis, x.rank)
        outer = math.prod(x.shape[:axis])
        size, inner = x.shape[axis], math.prod(x.shape[axis + 1 :])
    if condition.rank != 1 or condition.size > size:
        raise ctx.error(f"condition of shape {condition.shape} for an axis of {size}")
    positions, count = nonzero_positions(ctx, condition, condition.size)
    shape = [count] if axis is None else [*x.shape[:axis], count, *x.shape[axis + 1 :]]
    out = ctx.output(0, shape, x.elem)
    if positions is not None:
        gather_axis(ctx, x, positions, out, outer, size, inner, count)
