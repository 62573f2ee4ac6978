"""Flatten: the input as a matrix, the axes before `axis` as rows, as a view."""

import math

from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op


@onnx_op("Flatten", since=1)
def flatten(ctx: OpContext) -> None:
    """Shape `(prod(shape[:axis]), prod(shape[axis:]))`; `axis` may be negative from opset
    11 and equal to the rank."""
    x = ctx.input(0)
    axis = ctx.attr("axis", 1)
    if not -x.rank <= axis <= x.rank:
        raise ctx.error(f"axis {axis} is out of range for rank {x.rank}")
    if axis < 0:
        axis += x.rank
    ctx.alias(0, x, [math.prod(x.shape[:axis]), math.prod(x.shape[axis:])])
