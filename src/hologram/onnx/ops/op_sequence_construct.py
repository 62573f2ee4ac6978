"""SequenceConstruct: a sequence of the input tensors (a planning-time list; no copies)."""

from hologram.compiler import types
from hologram.compiler.context import OpContext, SequenceRef
from hologram.onnx.registry import onnx_op


@onnx_op("SequenceConstruct", since=11)
def sequence_construct(ctx: OpContext) -> None:
    """The inputs, in order, as one sequence; they must share an element type."""
    items = [ctx.input(i) for i in range(ctx.n_inputs)]
    if not items:
        raise ctx.error("needs at least one input")
    elem = items[0].elem
    for i, item in enumerate(items):
        if item.elem != elem:
            raise ctx.error(
                f"input {i} is {types.elem_name(item.elem)}, input 0 {types.elem_name(elem)}"
            )
    ctx.set_output(0, SequenceRef(elem, items))
