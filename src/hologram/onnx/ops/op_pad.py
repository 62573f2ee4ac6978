"""Pad: the input surrounded by (or cropped to) a border: a constant, the mirror image of
the input, its edge values or its wrapped-around other side (`mode`)."""

import numpy as np

from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._index_kernels import PAD_MODES, normalize_axis, pad_into
from hologram.onnx.registry import onnx_op


def lower_pad(ctx: OpContext, pads: list[int], axes: list[int], value: TensorRef | None) -> None:
    """Pad input 0 by `pads` (all begins, then all ends, one pair per axis of `axes`)."""
    x = ctx.input(0)
    mode = ctx.attr("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in PAD_MODES or (mode == "wrap" and ctx.opset < 19):
        raise ctx.error(f"unknown mode {mode!r}")
    if len(pads) != 2 * len(axes):
        raise ctx.error(f"{len(pads)} pads for {len(axes)} axes")
    begins = [0] * x.rank
    shape = list(x.shape)
    for k, axis in enumerate(axes):
        axis = normalize_axis(ctx, axis, x.rank, "axes entry")
        begins[axis] = pads[k]
        shape[axis] += pads[k] + pads[len(axes) + k]
        if shape[axis] < 0:
            raise ctx.error(f"pads {pads} crop axis {axis} below nothing")
    out = ctx.output(0, shape, x.elem)
    pad_into(ctx, x, out, begins, PAD_MODES[mode], value)


@onnx_op("Pad", since=1, until=10)
def pad_v1(ctx: OpContext) -> None:
    """Pads (`paddings` in opset 1) and the float `value` as attributes."""
    x = ctx.input(0)
    pads = [int(p) for p in ctx.attr("pads" if ctx.opset >= 2 else "paddings")]
    value = ctx.constant(np.array([ctx.attr("value", 0.0)]).astype(x.dtype.numpy), x.elem)
    lower_pad(ctx, pads, list(range(x.rank)), value)


@onnx_op("Pad", since=11)
def pad_v11(ctx: OpContext) -> None:
    """Pads, an optional scalar `constant_value` and (opset 18) optional axes as inputs."""
    x = ctx.input(0)
    value = ctx.optional_input(2)
    if value is not None and value.size != 1:
        raise ctx.error("constant_value must hold one value")
    axes = ctx.ints(3) if ctx.opset >= 18 and ctx.has_input(3) else list(range(x.rank))
    lower_pad(ctx, ctx.ints(1), axes, value)
