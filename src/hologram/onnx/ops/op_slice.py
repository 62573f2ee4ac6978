"""Slice: a strided window of the input (starts, ends, axes and steps), copied by one kernel.

Opset 1 takes starts, ends and axes as attributes; opset 10 takes them as inputs and adds
steps, which may be negative. Starts and ends count from the end when negative and are
clamped into the axis, so out-of-range bounds select what they overlap.
"""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import contiguous_strides, copy_strided, normalize_axis
from hologram.onnx.registry import onnx_op


def slice_window(start: int, end: int, step: int, size: int) -> tuple[int, int]:
    """The first index and the element count of `[start:end:step]` on an axis of `size`."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    if step > 0:
        start = min(max(start, 0), size)
        end = min(max(end, 0), size)
        return start, max(0, (end - start + step - 1) // step)
    start = min(max(start, 0), size - 1)
    end = min(max(end, -1), size - 1)
    return start, max(0, (start - end + (-step) - 1) // (-step))


def lower_slice(
    ctx: OpContext, starts: list[int], ends: list[int], axes: list[int], steps: list[int]
) -> None:
    """Declare and fill output 0 with the window of input 0 that the lists describe."""
    x = ctx.input(0)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ctx.error("starts, ends, axes and steps differ in length")
    axes = [normalize_axis(ctx, a, x.rank, "axes entry") for a in axes]
    if len(set(axes)) != len(axes):
        raise ctx.error(f"axes {axes} repeat an axis")
    shape = list(x.shape)
    strides = contiguous_strides(x.shape)
    view_strides = list(strides)
    base = 0
    for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
        if step == 0:
            raise ctx.error("a step of 0")
        first, count = slice_window(start, end, step, x.shape[axis])
        shape[axis] = count
        view_strides[axis] = strides[axis] * step
        base += first * strides[axis] if count else 0
    out = ctx.output(0, shape, x.elem)
    copy_strided(ctx, x, out, shape, view_strides, x_base=base)


@onnx_op("Slice", since=1, until=9)
def slice_v1(ctx: OpContext) -> None:
    """Starts, ends and (optional) axes as attributes; steps of 1."""
    starts = [int(v) for v in ctx.attr("starts")]
    ends = [int(v) for v in ctx.attr("ends")]
    axes = [int(v) for v in ctx.attr("axes", range(len(starts)))]
    lower_slice(ctx, starts, ends, axes, [1] * len(starts))


@onnx_op("Slice", since=10)
def slice_v10(ctx: OpContext) -> None:
    """Starts, ends, optional axes and optional steps as inputs."""
    starts = ctx.ints(1)
    ends = ctx.ints(2)
    axes = ctx.ints(3) if ctx.has_input(3) else list(range(len(starts)))
    steps = ctx.ints(4) if ctx.has_input(4) else [1] * len(starts)
    lower_slice(ctx, starts, ends, axes, steps)
