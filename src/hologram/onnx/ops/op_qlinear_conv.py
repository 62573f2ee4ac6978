"""QLinearConv: Conv of quantized 8-bit tensors, requantized into y's scale and zero point.

    acc = conv(x - x_zero_point, w - w_zero_point) + B        (exact, in float64)
    y = saturate(round(acc * (x_scale * w_scale[k] / y_scale)) + y_zero_point)

The multiplier of each filter is computed in float32 once per run by a small kernel, as the
ONNX reference does; the rest is `_convolve.py`'s pipeline with its requantizing
epilogue.
"""

from __future__ import annotations

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._convolve import Requantize, convolve
from hologram.onnx.ops._nn_kernels import BLOCK
from hologram.onnx.ops.op_conv import check_bias, conv_shape
from hologram.onnx.ops.op_conv_integer import EIGHT_BIT, zero_point
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_qlinear_multiplier(
    x_scale: hg.Array,
    w_scale: hg.Array,
    y_scale: hg.Array,
    out: hg.Array,
    filters: hg.int64,
    per_filter: hg.Const[bool],
):
    """out[k] = x_scale * w_scale[k] / y_scale, rounded in float32 (w_scale[0] for every k
    unless `per_filter`)."""
    k = hg.int64(hg.global_id())
    if k < filters:
        scale = hg.float32(w_scale[0])
        if per_filter:
            scale = hg.float32(w_scale[k])
        out[k] = hg.float32(x_scale[0]) * scale / hg.float32(y_scale[0])


def _scale(ctx: OpContext, index: int, per_filter: int = 0) -> TensorRef:
    scale = ctx.input(index)
    if scale.elem != types.FLOAT:
        raise ctx.unsupported(f"input {index} (a scale) of {types.elem_name(scale.elem)}")
    if scale.size != 1 and not (per_filter and scale.shape == (per_filter,)):
        raise ctx.error(f"input {index} of shape {scale.shape}: one value per tensor or filter")
    return scale


@onnx_op("QLinearConv", since=10)
def qlinear_conv(ctx: OpContext) -> None:
    """y (y_zero_point's type) from x, x_scale, x_zero_point, w, w_scale, w_zero_point,
    y_scale, y_zero_point and an optional int32 bias B."""
    x, w = ctx.input(0), ctx.input(3)
    if x.elem not in EIGHT_BIT or w.elem not in EIGHT_BIT:
        raise ctx.unsupported(
            f"QLinearConv of {types.elem_name(x.elem)} and {types.elem_name(w.elem)} tensors"
        )
    shape = conv_shape(ctx, x, w)
    x_scale, w_scale, y_scale = _scale(ctx, 1), _scale(ctx, 4, shape.filters), _scale(ctx, 6)
    x_zero = zero_point(ctx, 2, x)
    w_zero = zero_point(ctx, 5, w, shape.filters)
    y_zero = ctx.optional_input(7)
    out_elem = x.elem if y_zero is None else y_zero.elem
    if out_elem not in EIGHT_BIT or (y_zero is not None and y_zero.size != 1):
        raise ctx.unsupported("y_zero_point must be one int8 or uint8 value")
    bias = ctx.optional_input(8)
    if bias is not None and bias.elem != types.INT32:
        raise ctx.error(f"B must be int32, got {types.elem_name(bias.elem)}")
    check_bias(ctx, bias, shape.filters)
    out = ctx.output(0, (shape.images, shape.filters, *shape.window.out), out_elem)
    if out.size == 0:
        return
    multiplier = ctx.scratch((shape.filters,), types.FLOAT)
    per_filter = w_scale.size > 1
    args = [x_scale, w_scale, y_scale, multiplier, shape.filters, per_filter]
    ctx.launch(onnx_qlinear_multiplier, hg.blocks(shape.filters, BLOCK), BLOCK, args)
    if y_zero is None:
        y_zero = ctx.constant(np.zeros(1, np.int32), types.INT32)
    requantize = Requantize(multiplier, y_zero)
    convolve(ctx, x, w, out, shape, types.DOUBLE, bias, x_zero, w_zero, requantize)
