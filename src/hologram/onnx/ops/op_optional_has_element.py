"""OptionalHasElement: whether an optional holds a value (known while planning)."""

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext, OptionalRef
from hologram.onnx.registry import onnx_op


@onnx_op("OptionalHasElement", since=15)
def optional_has_element(ctx: OpContext) -> None:
    """True when input 0 is a non-empty optional, a tensor or a sequence (opset 18 allows
    the last two); false when it is empty or omitted."""
    value = ctx.input_ref(0) if ctx.has_input(0) else None
    present = value.value is not None if isinstance(value, OptionalRef) else value is not None
    ctx.output_value(0, np.array(present), types.BOOL)
