"""CumSum: running sums along an axis (see `_index_cumulative`)."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_cumulative import lower_cumulative
from hologram.onnx.registry import onnx_op


@onnx_op("CumSum", since=11)
def cum_sum(ctx: OpContext) -> None:
    """Sums, inclusive unless `exclusive`, from the end when `reverse`."""
    lower_cumulative(ctx, product=False)
