"""ConstantOfShape: a tensor of the shape input 0 gives, filled with the `value` attribute."""

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._generator_kernels import fill
from hologram.onnx.registry import onnx_op


@onnx_op("ConstantOfShape", since=9)
def constant_of_shape(ctx: OpContext) -> None:
    """Output 0 has shape `input 0` and holds `value` (a one-element tensor; float32 0 when
    absent) everywhere."""
    shape = ctx.ints(0)
    if any(d < 0 for d in shape):
        raise ctx.error(f"shape {shape} has a negative dimension")
    value = np.asarray(ctx.attr("value", np.zeros(1, np.float32)))
    if value.size != 1:
        raise ctx.error(f"'value' must hold one element, got {value.size}")
    elem = types.elem_of_numpy(value.dtype)
    if elem == types.STRING:
        raise ctx.unsupported("string tensors are not supported")
    fill(ctx, 0, shape, elem, value.reshape(-1)[0])
