"""RandomNormal: a tensor of `shape` drawn from N(mean, scale**2) (see `_random_kernels`)."""

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._random_kernels import NORMAL, random_fill
from hologram.onnx.registry import onnx_op


@onnx_op("RandomNormal", since=1, pure=False)
def random_normal(ctx: OpContext) -> None:
    """`dtype` (float by default), `mean` 0, `scale` 1, `seed`."""
    mean, scale = ctx.attr("mean", 0.0), ctx.attr("scale", 1.0)
    shape = ctx.attr("shape")
    random_fill(ctx, shape, ctx.attr("dtype", types.FLOAT), NORMAL, mean, scale)
