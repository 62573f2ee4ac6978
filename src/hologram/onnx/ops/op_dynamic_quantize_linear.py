"""DynamicQuantizeLinear: uint8 quantization with a scale and zero point fitted to the input.

The range `[min(0, min x), max(0, max x)]` maps onto `[0, 255]`: `scale = (max - min) / 255`
(1 / 255 when the range is empty) and `zero_point = round(clamp(-min / scale, 0, 255))`; then
`y = clamp(round(x / scale) + zero_point, 0, 255)`, rounding half to even.
"""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.isa.dtypes import DType
from hologram.onnx.ops._convert_kernels import NATIVE, value_table
from hologram.onnx.ops._quant_kernels import BLOCK, PER_TENSOR, onnx_quantize
from hologram.onnx.registry import onnx_op

RANGE_LANES = 256


@hg.kernel
def onnx_fit_uint8_range(x: hg.Array, scale: hg.Array, zero: hg.Array, n: hg.uint32):
    """One block: scale[0] and zero[0] of the range of x's `n` elements (and 0)."""
    lane = hg.uint32(hg.lane_id())
    low = hg.float32(0.0)
    high = hg.float32(0.0)
    j = lane
    while j < n:
        low = min(low, hg.float32(x[j]))
        high = max(high, hg.float32(x[j]))
        j += RANGE_LANES
    low = hg.block_min(low)
    high = hg.block_max(high)
    if lane == 0:
        step = hg.select(high == low, hg.float32(1.0), high - low) / hg.float32(255.0)
        scale[0] = step
        zero[0] = round(min(max(0.0 - low / step, 0.0), 255.0))


@onnx_op("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(ctx: OpContext) -> None:
    """Outputs: y (uint8), y_scale (float32 scalar), y_zero_point (uint8 scalar)."""
    x = ctx.input(0)
    if x.elem != types.FLOAT:
        raise ctx.unsupported(f"takes float tensors, got {types.elem_name(x.elem)}")
    scale = ctx.output(1, (), types.FLOAT)
    zero = ctx.output(2, (), types.UINT8)
    ctx.launch(onnx_fit_uint8_range, 1, RANGE_LANES, [x, scale, zero, x.size])
    out = ctx.output(0, x.shape, types.UINT8)
    if out.size:
        table = ctx.constant(value_table(NATIVE))
        args = [x, scale, zero, out, out.size, 1, 1, 1, 1, table, 0, 255, 1]
        args += [PER_TENSOR, NATIVE, False, True, DType.F32]
        ctx.launch(onnx_quantize, hg.blocks(out.size, BLOCK), BLOCK, args)
