"""Tile: the input repeated along each axis, as a strided copy.

Output axis `d` of size `repeats[d] * shape[d]` is viewed as two axes `(repeats[d],
shape[d])`; the input is read with stride 0 along each repeat axis.
"""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import contiguous_strides, copy_strided
from hologram.onnx.registry import onnx_op


@onnx_op("Tile", since=6)
def tile(ctx: OpContext) -> None:
    """Repeats from input 1, one per axis."""
    x = ctx.input(0)
    repeats = ctx.ints(1)
    if len(repeats) != x.rank or min(repeats, default=0) < 0:
        raise ctx.error(f"repeats {repeats} must be {x.rank} non-negative counts")
    strides = contiguous_strides(x.shape)
    dims: list[int] = []
    view: list[int] = []
    for size, stride, times in zip(x.shape, strides, repeats, strict=True):
        dims += [times, size]
        view += [0, stride]
    out = ctx.output(0, [t * s for t, s in zip(repeats, x.shape, strict=True)], x.elem)
    copy_strided(ctx, x, out, dims, view)
