"""MatMulInteger: `(a - a_zero_point) @ (b - b_zero_point)` of 8-bit integers, in int32."""

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
from hologram.onnx.registry import onnx_op


@onnx_op("MatMulInteger", since=10)
def mat_mul_integer(ctx: OpContext) -> None:
    """Zero points: one value, or one per row of a / per column of b."""
    a, b = ctx.input(0), ctx.input(1)
    check_8bit(ctx, a, b)
    shape = matmul_shape(ctx, a, b)
    a_zero = zero_of(ctx, ctx.optional_input(2), a)
    b_zero = zero_of(ctx, ctx.optional_input(3), b)
    a_by_row = per_index(ctx, a_zero, shape.rows, "a_zero_point")
    b_by_col = per_index(ctx, b_zero, shape.cols, "b_zero_point")
    out = ctx.output(0, shape.out_shape, types.INT32)
    if out.size == 0:
        return
    offsets = ctx.constant(shape.offsets, types.INT64)
    args = [a, b, a_zero, b_zero, a_zero, b_zero, a_zero, a_zero, out, offsets, out.size]
    args += [shape.rows, shape.depth, shape.cols, 0, 0, a_by_row, b_by_col, False, False]
    ctx.launch(onnx_integer_matmul, hg.blocks(out.size, BLOCK), BLOCK, args)
