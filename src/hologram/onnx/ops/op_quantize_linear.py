"""QuantizeLinear: `saturate(round(x / scale) + zero_point)` into an integer or float8 type.

Per tensor, per axis (opset 13) or per block (opset 21) scales (see `_quant_kernels`); the
output type is the zero point's, else `output_dtype` (opset 21), else uint8. Integers round
half to even and clamp to their range; float8 and float4 targets round the quotient into
the type (`saturate`, opset 19, as Cast) and ignore the zero point, except float4, which
adds it first.
"""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._convert_kernels import coding_of, value_table
from hologram.onnx.ops._quant_kernels import (
    BLOCK,
    INTEGER_RANGES,
    compute_dtype,
    is_float_target,
    onnx_quantize,
    quant_layout,
)
from hologram.onnx.registry import onnx_op


@onnx_op("QuantizeLinear", since=10)
def quantize_linear(ctx: OpContext) -> None:
    """Output 0 is input 0 quantized with scale input 1 and zero point input 2."""
    x, scale, zero = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    output_dtype = ctx.attr("output_dtype", 0)
    if zero is not None and output_dtype and output_dtype != zero.elem:
        raise ctx.error(f"output_dtype {types.elem_name(output_dtype)} differs from the zero "
                        f"point's {types.elem_name(zero.elem)}")  # fmt: skip
    elem = zero.elem if zero is not None else output_dtype or types.UINT8
    coding = coding_of(elem)
    float_target = is_float_target(coding)
    if not float_target and elem not in INTEGER_RANGES:
        raise ctx.unsupported(f"cannot quantize to {types.elem_name(elem)}")
    layout = quant_layout(ctx, x.shape, scale, zero)
    precision = ctx.attr("precision", 0)
    acc = types.storage_dtype(precision) if precision else compute_dtype(x.elem, scale.elem)
    out = ctx.output(0, x.shape, elem)
    if out.size == 0:
        return
    low, high = INTEGER_RANGES.get(elem, (0, 0))
    table = ctx.constant(value_table(coding))
    saturate = int(bool(ctx.attr("saturate", 1)))
    args = [x, scale, zero if zero is not None else scale, out, out.size, *layout.args()]
    args += [table, low, high, saturate, layout.mode, coding, float_target, zero is not None, acc]
    ctx.launch(onnx_quantize, hg.blocks(out.size, BLOCK), BLOCK, args)
