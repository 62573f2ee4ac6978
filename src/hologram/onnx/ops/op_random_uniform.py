"""RandomUniform: a tensor of `shape` drawn uniformly from [low, high) (see `_random_kernels`)."""

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._random_kernels import UNIFORM, random_fill
from hologram.onnx.registry import onnx_op


@onnx_op("RandomUniform", since=1, pure=False)
def random_uniform(ctx: OpContext) -> None:
    """`dtype` (float by default), `low` 0, `high` 1, `seed`."""
    low, high = ctx.attr("low", 0.0), ctx.attr("high", 1.0)
    shape = ctx.attr("shape")
    random_fill(ctx, shape, ctx.attr("dtype", types.FLOAT), UNIFORM, low, high - low)
