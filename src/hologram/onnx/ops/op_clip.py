"""Clip: x limited to [min, max]; a bound that is not given does not limit.

Opsets 6 to 10 take the bounds as float attributes (default: the float32 range); from opset
11 they are optional scalar inputs of x's type. With min > max every element is max (as
NumPy's `clip`), and NaN stays NaN.
"""

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import apply, elementwise, floats_only, numbers_only, widened
from hologram.onnx.registry import onnx_op

FLOAT32_MAX = 3.4028234663852886e38


@hg.func
def onnx_clip(x, low, high):
    """min(max(x, low), high)."""
    return min(max(x, low), high)


@hg.func
def onnx_clip_below(x, low):
    """max(x, low)."""
    return max(x, low)


@hg.func
def onnx_clip_above(x, high):
    """min(x, high)."""
    return min(x, high)


elementwise(
    "Clip",
    onnx_clip,
    since=6,
    until=10,
    check=floats_only,
    scalars=lambda ctx: [ctx.attr("min", -FLOAT32_MAX), ctx.attr("max", FLOAT32_MAX)],
)


@onnx_op("Clip", since=11)
def clip(ctx: OpContext) -> None:
    """Clip with optional `min` and `max` inputs (one-element tensors)."""
    x = ctx.input(0)
    bounds = [ctx.optional_input(1), ctx.optional_input(2)]
    given = [ref for ref in bounds if ref is not None]
    numbers_only(ctx, [x, *given])
    for name, ref in zip(("min", "max"), bounds, strict=True):
        if ref is not None and (ref.size != 1 or ref.elem != x.elem):
            raise ctx.error(f"{name} must be one value of the input's type, got {ref}")
    if not given:
        ctx.set_output(0, x)
        return
    low, high = bounds
    if low is not None and high is not None:
        func = onnx_clip
    else:
        func = onnx_clip_below if low is not None else onnx_clip_above
    apply(ctx, 0, func, [x, *given], x.elem, widened(x.dtype))
