"""ScatterElements: the data with single elements replaced (or reduced) at index positions
along one axis (see `_index_scatter`)."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_scatter import reduction_of, scatter_elements
from hologram.onnx.registry import onnx_op


@onnx_op("ScatterElements", since=11)
def scatter_elements_op(ctx: OpContext) -> None:
    """`reduction` (opset 16: none, add, mul; opset 18: also min, max)."""
    scatter_elements(ctx, reduction_of(ctx))
