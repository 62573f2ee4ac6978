"""Identity: the input itself (tensors, sequences and optionals), at no cost."""

from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op


@onnx_op("Identity", since=1)
def identity(ctx: OpContext) -> None:
    """Output 0 is input 0."""
    ctx.set_output(0, ctx.input_ref(0))
