"""Cast: elements converted to the type `to` names.

Floats to integers truncate toward zero; to float8 types round to nearest even and, with
`saturate` (opset 19, the default), clamp what lies beyond the largest finite value instead
of giving infinity or NaN; FLOAT8E8M0 rounds by `round_mode` (opset 24). Strings are not
supported.
"""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._convert_kernels import convert
from hologram.onnx.registry import onnx_op
from onnx import TensorProto


@onnx_op("Cast", since=1)
def cast(ctx: OpContext) -> None:
    """Output 0 is input 0 converted to `to` (a type name before opset 6, a code since)."""
    to = ctx.attr("to")
    if isinstance(to, str):
        if to.upper() not in TensorProto.DataType.keys():  # noqa: SIM118 (not iterable)
            raise ctx.error(f"'to' names no element type: {to!r}")
        to = TensorProto.DataType.Value(to.upper())
    convert(ctx, ctx.input(0), int(to), ctx.attr("saturate", 1), ctx.attr("round_mode", "up"))
