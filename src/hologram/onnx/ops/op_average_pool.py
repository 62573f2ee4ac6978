"""AveragePool: the mean of each window (1-D to 3-D); with `count_include_pad` the padding
counts in the divisor (see `_pool_kernels.py`)."""

from __future__ import annotations

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._nn_geometry import AXES, window
from hologram.onnx.ops._pool_kernels import AVERAGE_POOL, launch_pool
from hologram.onnx.ops.op_conv import FLOATS
from hologram.onnx.registry import onnx_op


@onnx_op("AveragePool", since=1)
def average_pool(ctx: OpContext) -> None:
    """Y from X (N x C x spatial)."""
    x = ctx.input(0)
    if x.elem not in FLOATS:
        raise ctx.unsupported(f"AveragePool of {types.elem_name(x.elem)} tensors")
    if x.rank < 3 or x.rank - 2 > AXES:
        raise ctx.unsupported(f"AveragePool of a {x.rank}-D input (3-D to 5-D)")
    win = window(ctx, x.shape[2:], ctx.attr("kernel_shape"), bool(ctx.attr("ceil_mode", 0)))
    out = ctx.output(0, (*x.shape[:2], *win.out), x.elem)
    include_pad = bool(ctx.attr("count_include_pad", 0))
    launch_pool(ctx, x, out, win, AVERAGE_POOL, include_pad=include_pad)
