"""LpPool: the Lp norm `(sum |x|^p)^(1/p)` of each window (1-D to 3-D)."""

from __future__ import annotations

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._nn_geometry import AXES, window
from hologram.onnx.ops._pool_kernels import LP_POOL, launch_pool
from hologram.onnx.ops.op_conv import FLOATS
from hologram.onnx.registry import onnx_op


@onnx_op("LpPool", since=1)
def lp_pool(ctx: OpContext) -> None:
    """Y from X (N x C x spatial); `p` defaults to 2."""
    x = ctx.input(0)
    if x.elem not in FLOATS:
        raise ctx.unsupported(f"LpPool of {types.elem_name(x.elem)} tensors")
    if x.rank < 3 or x.rank - 2 > AXES:
        raise ctx.unsupported(f"LpPool of a {x.rank}-D input (3-D to 5-D)")
    power = float(ctx.attr("p", 2))
    if power <= 0:
        raise ctx.error(f"p must be positive, got {power}")
    win = window(ctx, x.shape[2:], ctx.attr("kernel_shape"), bool(ctx.attr("ceil_mode", 0)))
    out = ctx.output(0, (*x.shape[:2], *win.out), x.elem)
    launch_pool(ctx, x, out, win, LP_POOL, power=power)
