"""ConcatFromSequence: the tensors of a sequence joined along an axis (or stacked)."""

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._sequence_utils import (
    concat_into,
    normalize_axis,
    sequence_input,
    stack_into,
)
from hologram.onnx.registry import onnx_op


@onnx_op("ConcatFromSequence", since=11)
def concat_from_sequence(ctx: OpContext) -> None:
    """Concatenate along `axis`; with `new_axis=1`, stack along a new axis `axis` instead
    (then `axis` may also be the rank, to stack along a last new axis)."""
    sequence = sequence_input(ctx, 0)
    items = sequence.items
    if not items:
        raise ctx.error("cannot concatenate an empty sequence")
    new_axis = bool(ctx.attr("new_axis", 0))
    rank = items[0].rank
    axis = normalize_axis(ctx, int(ctx.attr("axis")), rank + 1 if new_axis else rank)
    for k, item in enumerate(items):
        if item.elem != items[0].elem:
            raise ctx.error(f"item {k} is {types.elem_name(item.elem)}, item 0 "
                            f"{types.elem_name(items[0].elem)}")  # fmt: skip
        if new_axis:
            same = item.shape == items[0].shape
        else:
            same = item.rank == rank and all(
                a == b for d, (a, b) in enumerate(zip(item.shape, items[0].shape, strict=True))
                if d != axis
            )  # fmt: skip
        if not same:
            raise ctx.error(f"item {k} has shape {item.shape}, item 0 {items[0].shape}")
    if new_axis:
        shape = [*items[0].shape[:axis], len(items), *items[0].shape[axis:]]
        out = ctx.output(0, shape, items[0].elem)
        stack_into(ctx, out, items, axis, range(len(items)))
    else:
        shape = list(items[0].shape)
        shape[axis] = sum(item.shape[axis] for item in items)
        out = ctx.output(0, shape, items[0].elem)
        concat_into(ctx, out, items, axis)
