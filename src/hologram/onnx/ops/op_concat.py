"""Concat: the inputs joined along one axis, each copied into its place in the output."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import contiguous_strides, copy_strided, normalize_axis
from hologram.onnx.registry import onnx_op


def off_axis(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """`shape` without axis `axis`."""
    return shape[:axis] + shape[axis + 1 :]


@onnx_op("Concat", since=1)
def concat(ctx: OpContext) -> None:
    """Inputs of equal shape but along `axis` (negative from opset 11), in order."""
    inputs = [ctx.input(i) for i in range(ctx.n_inputs) if ctx.has_input(i)]
    if not inputs:
        raise ctx.error("needs at least one input")
    first = inputs[0]
    if first.rank == 0:
        raise ctx.error("cannot concatenate scalars")
    axis = ctx.attr("axis") if ctx.opset >= 4 else ctx.attr("axis", 1)
    axis = normalize_axis(ctx, axis, first.rank)
    for ref in inputs:
        if ref.elem != first.elem:
            raise ctx.error("inputs have different element types")
        if ref.rank != first.rank or off_axis(ref.shape, axis) != off_axis(first.shape, axis):
            raise ctx.error(f"shapes {first.shape} and {ref.shape} differ off axis {axis}")
    shape = list(first.shape)
    shape[axis] = sum(ref.shape[axis] for ref in inputs)
    out = ctx.output(0, shape, first.elem)
    out_strides = contiguous_strides(shape)
    start = 0
    for ref in inputs:
        base = start * out_strides[axis]
        strides = contiguous_strides(ref.shape)
        copy_strided(ctx, ref, out, ref.shape, strides, out_strides=out_strides, out_base=base)
        start += ref.shape[axis]
