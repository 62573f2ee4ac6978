"""SequenceInsert: a sequence with one more tensor (at the end, or at a position)."""

from hologram.compiler import types
from hologram.compiler.context import OpContext, SequenceRef
from hologram.onnx.ops._sequence_utils import scalar_int, sequence_input
from hologram.onnx.registry import onnx_op


@onnx_op("SequenceInsert", since=11)
def sequence_insert(ctx: OpContext) -> None:
    """Input 0 with tensor input 1 inserted before `position` (input 2; default: appended).
    A negative position counts from the end; `len` is allowed (append)."""
    sequence = sequence_input(ctx, 0)
    tensor = ctx.input(1)
    if sequence.items and tensor.elem != sequence.elem:
        raise ctx.error(
            f"cannot insert {types.elem_name(tensor.elem)} into a sequence of "
            f"{types.elem_name(sequence.elem)}"
        )
    length = len(sequence.items)
    at = scalar_int(ctx, ctx.input(2), "the position") if ctx.has_input(2) else length
    if not -length <= at <= length:
        raise ctx.error(f"position {at} is out of range for a sequence of {length}")
    at = at + length if at < 0 else at
    items = [*sequence.items[:at], tensor, *sequence.items[at:]]
    ctx.set_output(0, SequenceRef(tensor.elem, items))
