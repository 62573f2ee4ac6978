"""Expand: the input broadcast against a shape (NumPy rules, both ways), copied out."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import copy_strided
from hologram.onnx.registry import onnx_op
from hologram.ops._broadcast import broadcast_shapes


@onnx_op("Expand", since=8)
def expand(ctx: OpContext) -> None:
    """The output has the broadcast of the input's shape and input 1; broadcast axes are
    read with stride 0."""
    x = ctx.input(0)
    shape = broadcast_shapes([x.shape, tuple(ctx.ints(1))], ctx.where())
    padded = (1,) * (len(shape) - x.rank) + x.shape
    strides = []
    step = 1
    for size in reversed(padded):
        strides.append(step if size != 1 else 0)
        step *= size
    out = ctx.output(0, shape, x.elem)
    copy_strided(ctx, x, out, shape, strides[::-1])
