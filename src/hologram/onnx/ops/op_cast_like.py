"""CastLike: Cast to the element type of a second input (whose values are not read)."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._convert_kernels import convert
from hologram.onnx.registry import onnx_op


@onnx_op("CastLike", since=15)
def cast_like(ctx: OpContext) -> None:
    """Output 0 is input 0 converted to input 1's element type."""
    saturate = ctx.attr("saturate", 1)
    convert(ctx, ctx.input(0), ctx.input(1).elem, saturate, ctx.attr("round_mode", "up"))
