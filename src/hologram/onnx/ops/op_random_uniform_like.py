"""RandomUniformLike: RandomUniform with the shape (and by default the type) of the input."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._random_kernels import UNIFORM, random_fill
from hologram.onnx.registry import onnx_op


@onnx_op("RandomUniformLike", since=1, pure=False)
def random_uniform_like(ctx: OpContext) -> None:
    """`dtype` (the input's by default), `low` 0, `high` 1, `seed`."""
    x = ctx.input(0)
    low, high = ctx.attr("low", 0.0), ctx.attr("high", 1.0)
    random_fill(ctx, x.shape, ctx.attr("dtype", x.elem), UNIFORM, low, high - low)
