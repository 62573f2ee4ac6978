"""Where: `x` where `condition` holds, else `y`, the three broadcast together."""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._elementwise import compute_of_last, elementwise, numbers_or_bools


@hg.func
def onnx_where(condition, x, y):
    """x where condition is non-zero, else y."""
    return hg.select(condition != 0, x, y)


def where_check(ctx: OpContext, inputs: list[TensorRef]) -> None:
    """A bool condition and values of one numeric or bool type."""
    if inputs[0].elem != types.BOOL:
        raise ctx.error(f"condition must be bool, got {types.elem_name(inputs[0].elem)}")
    numbers_or_bools(ctx, inputs[1:])
    if inputs[1].elem != inputs[2].elem:
        raise ctx.error("x and y must have the same element type")


elementwise(
    "Where",
    onnx_where,
    since=9,
    out=lambda elems: elems[1],
    compute=compute_of_last,
    check=where_check,
)
