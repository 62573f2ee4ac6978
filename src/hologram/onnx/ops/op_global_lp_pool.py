"""GlobalLpPool: the Lp norm (`p`, default 2) of each whole plane, N x C x spatial to
N x C x 1 x ..."""

from __future__ import annotations

from hologram.compiler.context import OpContext
from hologram.onnx.ops._pool_kernels import LP_POOL, global_pool
from hologram.onnx.registry import onnx_op


@onnx_op("GlobalLpPool", since=1)
def global_lp_pool(ctx: OpContext) -> None:
    """Y from X, one value per image and channel."""
    power = float(ctx.attr("p", 2))
    if power <= 0:
        raise ctx.error(f"p must be positive, got {power}")
    global_pool(ctx, LP_POOL, power)
