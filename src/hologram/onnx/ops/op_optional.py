"""Optional: wrap a tensor or a sequence, or make an empty optional of a given type."""

from hologram.compiler.context import OpContext, OptionalRef, SequenceRef
from hologram.onnx.registry import onnx_op


@onnx_op("Optional", since=15)
def optional(ctx: OpContext) -> None:
    """An optional holding input 0, or an empty one of the `type` attribute."""
    if ctx.has_input(0):
        value = ctx.input_ref(0)
        if isinstance(value, OptionalRef):
            raise ctx.error("input 0 is already an optional")
        if isinstance(value, SequenceRef):
            ctx.set_output(0, OptionalRef(value.elem, value, "sequence"))
        else:
            tensor = ctx.input(0)
            ctx.set_output(0, OptionalRef(tensor.elem, tensor, "tensor"))
        return
    kind = ctx.attr("type", None)
    if kind is None:
        raise ctx.error("an empty optional needs the `type` attribute")
    inner = kind.inner if kind.kind == "optional" and kind.inner is not None else kind
    held = "sequence" if inner.kind == "sequence" else "tensor"
    ctx.set_output(0, OptionalRef(inner.elem, None, held))
