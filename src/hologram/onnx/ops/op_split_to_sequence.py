"""SplitToSequence: a tensor cut along an axis into a sequence of pieces (copied out)."""

from hologram.compiler.context import OpContext, SequenceRef, TensorRef
from hologram.onnx.ops._sequence_utils import (
    contiguous_strides,
    copy_region,
    normalize_axis,
    take_slice,
)
from hologram.onnx.registry import onnx_op


@onnx_op("SplitToSequence", since=11)
def split_to_sequence(ctx: OpContext) -> None:
    """Pieces along `axis`: of the sizes in `split` (a 1-D input), of `split` elements each
    (a scalar; the last piece may be shorter), or of one element each without `split`
    (squeezed away unless `keepdims`)."""
    data = ctx.input(0)
    axis = normalize_axis(ctx, int(ctx.attr("axis", 0)), data.rank)
    length = data.shape[axis]
    squeeze = False
    if ctx.has_input(1):
        split = ctx.input(1)
        values = ctx.ints(1)
        if split.rank == 0:
            if values[0] <= 0:
                raise ctx.error(f"split {values[0]} must be positive")
            step = values[0]
            sizes = [min(step, length - start) for start in range(0, length, step)]
        else:
            sizes = values
            if any(s < 0 for s in sizes) or sum(sizes) != length:
                raise ctx.error(f"split {sizes} does not add up to dimension {length}")
    else:
        sizes = [1] * length
        squeeze = not int(ctx.attr("keepdims", 1))
    strides = contiguous_strides(data.shape)
    pieces: list[TensorRef] = []
    start = 0
    for size in sizes:
        if squeeze:
            pieces.append(take_slice(ctx, data, axis, start))
        else:
            shape = list(data.shape)
            shape[axis] = size
            piece = ctx.scratch(shape, data.elem)
            base = start * strides[axis]
            copy_region(ctx, data, piece, shape, strides, contiguous_strides(shape), base)
            pieces.append(piece)
        start += size
    ctx.set_output(0, SequenceRef(data.elem, pieces))
