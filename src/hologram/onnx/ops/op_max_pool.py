"""MaxPool: the largest element of each window (1-D to 3-D), with its flat position as the
optional Indices output (see `_pool_kernels.py`)."""

from __future__ import annotations

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._nn_geometry import AXES, window
from hologram.onnx.ops._pool_kernels import MAX_POOL, launch_pool
from hologram.onnx.registry import onnx_op

MAX_POOL_TYPES = frozenset(
    {types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16, types.INT8, types.UINT8}
)


@onnx_op("MaxPool", since=1)
def max_pool(ctx: OpContext) -> None:
    """Y (and Indices, int64) from X (N x C x spatial)."""
    x = ctx.input(0)
    if x.elem not in MAX_POOL_TYPES:
        raise ctx.unsupported(f"MaxPool of {types.elem_name(x.elem)} tensors")
    if x.rank < 3 or x.rank - 2 > AXES:
        raise ctx.unsupported(f"MaxPool of a {x.rank}-D input (3-D to 5-D)")
    win = window(ctx, x.shape[2:], ctx.attr("kernel_shape"), bool(ctx.attr("ceil_mode", 0)))
    out = ctx.output(0, (*x.shape[:2], *win.out), x.elem)
    indices = None
    if ctx.has_output(1):
        indices = ctx.output(1, out.shape, types.INT64)
    column_major = int(ctx.attr("storage_order", 0)) == 1
    launch_pool(ctx, x, out, win, MAX_POOL, indices, column_major=column_major)
