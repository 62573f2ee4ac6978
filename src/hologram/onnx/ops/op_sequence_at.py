"""SequenceAt: the tensor at a position of a sequence (the position is read, and guarded)."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._sequence_utils import scalar_int, sequence_input, sequence_position
from hologram.onnx.registry import onnx_op


@onnx_op("SequenceAt", since=11)
def sequence_at(ctx: OpContext) -> None:
    """Item `position` of input 0; negative positions count from the end."""
    sequence = sequence_input(ctx, 0)
    at = scalar_int(ctx, ctx.input(1), "the position")
    ctx.set_output(0, sequence.items[sequence_position(ctx, at, len(sequence.items))])
