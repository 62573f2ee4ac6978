"""Split: the input cut along one axis into consecutive parts, each copied out."""

import math

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import contiguous_strides, copy_strided, normalize_axis
from hologram.onnx.registry import onnx_op


@onnx_op("Split", since=1)
def split(ctx: OpContext) -> None:
    """Part sizes from `split` (an attribute before opset 13, else input 1; opset 1 took
    either), else equal parts: one per output, or `num_outputs` (opset 18) parts of
    `ceil(size / num_outputs)` with a smaller last one."""
    x = ctx.input(0)
    axis = normalize_axis(ctx, ctx.attr("axis", 0), x.rank)
    size = x.shape[axis]
    if ctx.opset >= 13 or (ctx.opset == 1 and ctx.has_input(1)):
        sizes = ctx.ints(1) if ctx.has_input(1) else None
    else:
        sizes = ctx.attr("split", None)
    if sizes is not None:
        sizes = [int(s) for s in sizes]
        if len(sizes) != ctx.n_outputs or sum(sizes) != size or min(sizes, default=0) < 0:
            raise ctx.error(f"split {sizes} does not cut {size} into {ctx.n_outputs} parts")
    elif ctx.opset >= 18:
        parts = ctx.attr("num_outputs", ctx.n_outputs)
        if parts != ctx.n_outputs:
            raise ctx.error(f"num_outputs {parts} but the node has {ctx.n_outputs} outputs")
        step = math.ceil(size / parts)
        sizes = [min(step, max(size - k * step, 0)) for k in range(parts)]
    else:
        if size % ctx.n_outputs:
            raise ctx.error(f"cannot split {size} into {ctx.n_outputs} equal parts")
        sizes = [size // ctx.n_outputs] * ctx.n_outputs
    strides = contiguous_strides(x.shape)
    start = 0
    for i, part in enumerate(sizes):
        shape = [*x.shape[:axis], part, *x.shape[axis + 1 :]]
        if ctx.has_output(i):
            out = ctx.output(i, shape, x.elem)
            copy_strided(ctx, x, out, shape, strides, x_base=start * strides[axis])
        start += part
