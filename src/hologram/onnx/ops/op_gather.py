"""Gather: slices of the input along one axis, picked by an index tensor."""

import math

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import gather_axis, normalize_axis
from hologram.onnx.registry import onnx_op


@onnx_op("Gather", since=1)
def gather(ctx: OpContext) -> None:
    """Output shape `data.shape[:axis] + indices.shape + data.shape[axis + 1:]`; negative
    indices count from the end of the axis."""
    data = ctx.input(0)
    indices = ctx.input(1)
    axis = normalize_axis(ctx, ctx.attr("axis", 0), data.rank)
    shape = [*data.shape[:axis], *indices.shape, *data.shape[axis + 1 :]]
    out = ctx.output(0, shape, data.elem)
    outer = math.prod(data.shape[:axis])
    inner = math.prod(data.shape[axis + 1 :])
    gather_axis(ctx, data, indices, out, outer, data.shape[axis], inner, indices.size)
