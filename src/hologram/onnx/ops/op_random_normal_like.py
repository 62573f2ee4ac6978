"""RandomNormalLike: RandomNormal with the shape (and by default the type) of the input."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._random_kernels import NORMAL, random_fill
from hologram.onnx.registry import onnx_op


@onnx_op("RandomNormalLike", since=1, pure=False)
def random_normal_like(ctx: OpContext) -> None:
    """`dtype` (the input's by default), `mean` 0, `scale` 1, `seed`."""
    x = ctx.input(0)
    mean, scale = ctx.attr("mean", 0.0), ctx.attr("scale", 1.0)
    random_fill(ctx, x.shape, ctx.attr("dtype", x.elem), NORMAL, mean, scale)
