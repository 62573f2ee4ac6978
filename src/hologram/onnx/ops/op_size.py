"""Size: the number of elements of the input, an int64 scalar known while planning."""

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op


@onnx_op("Size", since=1)
def size(ctx: OpContext) -> None:
    """Output 0 is the element count of input 0."""
    ctx.output_value(0, np.array(ctx.input(0).size, np.int64), types.INT64)
