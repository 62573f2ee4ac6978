"""Unsqueeze: the input with size-1 axes inserted, as a view."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import normalize_axis
from hologram.onnx.registry import onnx_op


@onnx_op("Unsqueeze", since=1)
def unsqueeze(ctx: OpContext) -> None:
    """Axes (of the output) from the `axes` attribute before opset 13, else input 1."""
    x = ctx.input(0)
    axes = ctx.ints(1) if ctx.opset >= 13 else [int(a) for a in ctx.attr("axes")]
    rank = x.rank + len(axes)
    inserted = {normalize_axis(ctx, a, rank, "axes entry") for a in axes}
    if len(inserted) != len(axes):
        raise ctx.error(f"axes {axes} repeat an axis")
    dims = iter(x.shape)
    ctx.alias(0, x, [1 if d in inserted else next(dims) for d in range(rank)])
