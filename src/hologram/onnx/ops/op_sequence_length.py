"""SequenceLength: the number of tensors in a sequence (known while planning)."""

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._sequence_utils import sequence_input
from hologram.onnx.registry import onnx_op


@onnx_op("SequenceLength", since=11)
def sequence_length(ctx: OpContext) -> None:
    """An int64 scalar: the length of input 0."""
    sequence = sequence_input(ctx, 0)
    ctx.output_value(0, np.array(len(sequence.items), np.int64), types.INT64)
