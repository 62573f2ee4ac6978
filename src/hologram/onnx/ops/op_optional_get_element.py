"""OptionalGetElement: the value an optional holds (tensors and sequences pass through)."""

from hologram.compiler.context import OpContext, OptionalRef
from hologram.onnx.registry import onnx_op


@onnx_op("OptionalGetElement", since=15)
def optional_get_element(ctx: OpContext) -> None:
    """Input 0's value; an empty optional is an error."""
    value = ctx.input_ref(0)
    if isinstance(value, OptionalRef):
        value = value.value
    if value is None:
        raise ctx.error("the optional is empty")
    ctx.set_output(0, value)
