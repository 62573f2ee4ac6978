"""Reshape: the same memory under a new shape (a view; no kernel runs)."""

import math

from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op


@onnx_op("Reshape", since=5)
def reshape(ctx: OpContext) -> None:
    """Shape from input 1: 0 copies the input's dimension (unless `allowzero`), -1 is
    inferred."""
    data = ctx.input(0)
    requested = ctx.ints(1)
    allow_zero = ctx.attr("allowzero", 0) if ctx.opset >= 14 else 0
    dims: list[int] = []
    for axis, size in enumerate(requested):
        if size == 0 and not allow_zero:
            if axis >= data.rank:
                raise ctx.error(f"shape {requested}: 0 at axis {axis} copies no dimension")
            size = data.shape[axis]
        dims.append(size)
    if dims.count(-1) > 1:
        raise ctx.error(f"shape {requested} has more than one -1")
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or data.size % known:
            raise ctx.error(f"cannot reshape {data.shape} to {requested}")
        dims[dims.index(-1)] = data.size // known
    if math.prod(dims) != data.size:
        raise ctx.error(f"cannot reshape {data.shape} ({data.size} elements) to {requested}")
    ctx.alias(0, data, dims)
