"""ConvInteger: Conv of 8-bit integers less their zero points, into int32 (see
`_convolve.py`: computed exactly in float64 on the MATMUL intrinsic)."""

from __future__ import annotations

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._convolve import convolve
from hologram.onnx.ops.op_conv import conv_shape
from hologram.onnx.registry import onnx_op

EIGHT_BIT = (types.INT8, types.UINT8)


def zero_point(ctx: OpContext, index: int, of: TensorRef, per_filter: int = 0) -> TensorRef | None:
    """Input `index`, the zero point of `of`: one value (or `per_filter` values), of its
    element type; None when omitted."""
    zero = ctx.optional_input(index)
    if zero is None:
        return None
    if zero.elem != of.elem:
        raise ctx.error(
            f"input {index} is {types.elem_name(zero.elem)}, "
            f"but the tensor it offsets is {types.elem_name(of.elem)}"
        )
    if zero.size != 1 and not (per_filter and zero.shape == (per_filter,)):
        raise ctx.unsupported(
            f"input {index} of shape {zero.shape} (one value per tensor or filter)"
        )
    return zero


@onnx_op("ConvInteger", since=10)
def conv_integer(ctx: OpContext) -> None:
    """Y (int32) = conv(X - x_zero_point, W - w_zero_point)."""
    x, w = ctx.input(0), ctx.input(1)
    if x.elem not in EIGHT_BIT or w.elem not in EIGHT_BIT:
        raise ctx.unsupported(
            f"ConvInteger of {types.elem_name(x.elem)} and {types.elem_name(w.elem)} tensors"
        )
    shape = conv_shape(ctx, x, w)
    x_zero = zero_point(ctx, 2, x)
    w_zero = zero_point(ctx, 3, w, shape.filters)
    out = ctx.output(0, (shape.images, shape.filters, *shape.window.out), types.INT32)
    convolve(ctx, x, w, out, shape, types.DOUBLE, x_zero=x_zero, w_zero=w_zero)
