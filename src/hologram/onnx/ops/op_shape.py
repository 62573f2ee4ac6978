"""Shape: the input's dimensions (optionally a slice of them), known while planning."""

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op


@onnx_op("Shape", since=1)
def shape(ctx: OpContext) -> None:
    """int64 dimensions `[start:end]` (opset 15 added start and end, clamped to the rank)."""
    dims = ctx.input(0).shape
    rank = len(dims)
    start = ctx.attr("start", 0)
    end = ctx.attr("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    ctx.output_value(0, np.array(dims[start:end], np.int64), types.INT64)
