"""DequantizeLinear: `(x - zero_point) * scale`, computed in float32.

Per tensor, per axis (opset 13) or per block (opset 21) scales (see `_quant_kernels`); the
output type is the scale's, or `output_dtype` (opset 23). The zero point of float8 and
float4 inputs is zero by definition and not read.
"""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.isa.dtypes import DType
from hologram.onnx.ops._convert_kernels import coding_of, is_float_coding, value_table
from hologram.onnx.ops._quant_kernels import BLOCK, onnx_dequantize, quant_layout
from hologram.onnx.registry import onnx_op


@onnx_op("DequantizeLinear", since=10)
def dequantize_linear(ctx: OpContext) -> None:
    """Output 0 is input 0 dequantized with scale input 1 and zero point input 2."""
    x, scale, zero = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    coding = coding_of(x.elem)
    if zero is not None and zero.elem != x.elem:
        raise ctx.error(f"zero point of {types.elem_name(zero.elem)} for an input of "
                        f"{types.elem_name(x.elem)}")  # fmt: skip
    if not scale.dtype.is_float:
        raise ctx.error(f"scale must be a float tensor, got {types.elem_name(scale.elem)}")
    layout = quant_layout(ctx, x.shape, scale, zero)
    out = ctx.output(0, x.shape, ctx.attr("output_dtype", 0) or scale.elem)
    if out.size == 0:
        return
    has_zero = zero is not None and not is_float_coding(coding)
    acc = DType.F64 if scale.dtype == DType.F64 else DType.F32
    table = ctx.constant(value_table(coding))
    args = [x, scale, zero if zero is not None else scale, out, out.size, *layout.args()]
    args += [table, layout.mode, coding, has_zero, acc]
    ctx.launch(onnx_dequantize, hg.blocks(out.size, BLOCK), BLOCK, args)
