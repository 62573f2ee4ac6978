"""GlobalAveragePool: the mean of each whole plane, N x C x spatial to N x C x 1 x ..."""

from __future__ import annotations

from hologram.compiler.context import OpContext
from hologram.onnx.ops._pool_kernels import AVERAGE_POOL, global_pool
from hologram.onnx.registry import onnx_op


@onnx_op("GlobalAveragePool", since=1)
def global_average_pool(ctx: OpContext) -> None:
    """Y from X, one value per image and channel."""
    global_pool(ctx, AVERAGE_POOL)
