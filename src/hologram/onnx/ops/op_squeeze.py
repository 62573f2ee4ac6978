"""Squeeze: the input without some (or all) of its size-1 axes, as a view."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import normalize_axis
from hologram.onnx.registry import onnx_op


@onnx_op("Squeeze", since=1)
def squeeze(ctx: OpContext) -> None:
    """Axes from the `axes` attribute (before opset 13) or input 1; all size-1 axes without."""
    x = ctx.input(0)
    if ctx.opset >= 13:
        axes = ctx.ints(1) if ctx.has_input(1) else None
    else:
        axes = ctx.attr("axes", None)
    if axes is None:
        dropped = {d for d, size in enumerate(x.shape) if size == 1}
    else:
        dropped = {normalize_axis(ctx, int(a), x.rank, "axes entry") for a in axes}
        for axis in dropped:
            if x.shape[axis] != 1:
                raise ctx.error(f"cannot squeeze axis {axis} of size {x.shape[axis]}")
    ctx.alias(0, x, [size for d, size in enumerate(x.shape) if d not in dropped])
