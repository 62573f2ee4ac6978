"""CumProd: running products along an axis (see `_index_cumulative`)."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_cumulative import lower_cumulative
from hologram.onnx.registry import onnx_op


@onnx_op("CumProd", since=26)
def cum_prod(ctx: OpContext) -> None:
    """Products, inclusive unless `exclusive`, from the end when `reverse`."""
    lower_cumulative(ctx, product=True)
