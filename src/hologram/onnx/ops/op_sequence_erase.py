"""SequenceErase: a sequence without the tensor at a position (the last by default)."""

from hologram.compiler.context import OpContext, SequenceRef
from hologram.onnx.ops._sequence_utils import scalar_int, sequence_input, sequence_position
from hologram.onnx.registry import onnx_op


@onnx_op("SequenceErase", since=11)
def sequence_erase(ctx: OpContext) -> None:
    """Input 0 without item `position` (input 1, default -1)."""
    sequence = sequence_input(ctx, 0)
    at = scalar_int(ctx, ctx.input(1), "the position") if ctx.has_input(1) else -1
    index = sequence_position(ctx, at, len(sequence.items))
    items = [item for k, item in enumerate(sequence.items) if k != index]
    ctx.set_output(0, SequenceRef(sequence.elem, items))
