"""Scatter (deprecated for ScatterElements in opset 11): elements replaced at index positions."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_scatter import scatter_elements
from hologram.onnx.registry import onnx_op


@onnx_op("Scatter", since=9)
def scatter(ctx: OpContext) -> None:
    """ScatterElements without a reduction."""
    scatter_elements(ctx, 0)
