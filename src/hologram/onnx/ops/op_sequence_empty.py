"""SequenceEmpty: an empty sequence of the `dtype` attribute's element type."""

from hologram.compiler import types
from hologram.compiler.context import OpContext, SequenceRef
from hologram.onnx.registry import onnx_op


@onnx_op("SequenceEmpty", since=11)
def sequence_empty(ctx: OpContext) -> None:
    """An empty sequence (float by default)."""
    ctx.set_output(0, SequenceRef(int(ctx.attr("dtype", types.FLOAT)), []))
