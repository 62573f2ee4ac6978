"""Constant: the tensor one of its `value*` attributes holds, known while planning."""

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op

_SCALAR_ATTRS = {
    "value_float": np.float32,
    "value_floats": np.float32,
    "value_int": np.int64,
    "value_ints": np.int64,
}


@onnx_op("Constant", since=1)
def constant(ctx: OpContext) -> None:
    """Output 0 is `value` or `sparse_value` (tensors, opsets 1 and 11), or `value_float(s)`,
    `value_int(s)`, `value_string(s)` (opset 12); exactly one must be given."""
    given = [name for name in ctx.node.attrs if name.startswith(("value", "sparse_value"))]
    if len(given) != 1:
        raise ctx.error(f"needs exactly one value attribute, got {given or 'none'}")
    name = given[0]
    value = ctx.attr(name)
    if name in _SCALAR_ATTRS:
        ctx.output_value(0, np.array(value, _SCALAR_ATTRS[name]))
    elif name in ("value_string", "value_strings"):
        ctx.output_value(0, np.array(value, dtype=object), types.STRING)
    elif isinstance(value, np.ndarray):
        ctx.output_value(0, value)
    else:
        raise ctx.error(f"attribute {name!r} is not a tensor")
