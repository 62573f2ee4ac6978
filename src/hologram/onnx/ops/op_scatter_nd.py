"""ScatterND: the data with slices replaced (or reduced) at the positions the index rows
address (see `_index_scatter`)."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_scatter import reduction_of, scatter_nd
from hologram.onnx.registry import onnx_op


@onnx_op("ScatterND", since=11)
def scatter_nd_op(ctx: OpContext) -> None:
    """`reduction` (opset 16: none, add, mul; opset 18: also min, max)."""
    scatter_nd(ctx, reduction_of(ctx))
