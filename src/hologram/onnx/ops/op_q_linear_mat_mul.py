"""QLinearMatMul: the product of two quantized matrices, requantized (see `_integer_matmul`).

Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point; the
output has y_zero_point's type. 8-bit integers only (opset 21's float8 inputs are not
supported).
"""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._integer_matmul import (
    BLOCK,
    check_8bit,
    matmul_shape,
    onnx_integer_matmul,
    per_index,
    zero_of,
)
from hologram.onnx.ops._quant_kernels import INTEGER_RANGES
from hologram.onnx.registry import onnx_op


@onnx_op("QLinearMatMul", since=10)
def q_linear_mat_mul(ctx: OpContext) -> None:
    """Scales and zero points: one value, or one per row of a / column of b / row of y."""
    a, a_scale, b, b_scale, y_scale = (ctx.input(i) for i in (0, 1, 3, 4, 6))
    y_zero = ctx.input(7)
    check_8bit(ctx, a, b, y_zero)
    if len({a_scale.elem, b_scale.elem, y_scale.elem}) != 1 or not a_scale.dtype.is_float:
        raise ctx.error("the scales must be floats of one type")
    shape = matmul_shape(ctx, a, b)
    a_zero = zero_of(ctx, ctx.optional_input(2), a, a_scale.size)
    b_zero = zero_of(ctx, ctx.optional_input(5), b, b_scale.size)
    a_by_row = per_index(ctx, a_scale, shape.rows, "a_scale")
    b_by_col = per_index(ctx, b_scale, shape.cols, "b_scale")
    y_by_row = per_index(ctx, y_scale, shape.rows, "y_scale")
    if per_index(ctx, a_zero, shape.rows, "a_zero_point") != a_by_row:
        raise ctx.error("a_zero_point and a_scale must have the same shape")
    if per_index(ctx, b_zero, shape.cols, "b_zero_point") != b_by_col:
        raise ctx.error("b_zero_point and b_scale must have the same shape")
    if per_index(ctx, y_zero, shape.rows, "y_zero_point") != y_by_row:
        raise ctx.error("y_zero_point and y_scale must have the same shape")
    out = ctx.output(0, shape.out_shape, y_zero.elem)
    if out.size == 0:
        return
    low, high = INTEGER_RANGES[y_zero.elem]
    offsets = ctx.constant(shape.offsets, types.INT64)
    args = [a, b, a_zero, b_zero, a_scale, b_scale, y_scale, y_zero, out, offsets, out.size]
    args += [shape.rows, shape.depth, shape.cols, low, high, a_by_row, b_by_col, y_by_row, True]
    ctx.launch(onnx_integer_matmul, hg.blocks(out.size, BLOCK), BLOCK, args)
