"""Swish: `x * sigmoid(alpha * x)` (alpha: 1)."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_swish(x, alpha):
    """x * sigmoid(alpha * x)."""
    return x * hg.sigmoid(x * alpha)


elementwise(
    "Swish", onnx_swish, since=24, check=floats_only, scalars=lambda ctx: [ctx.attr("alpha", 1.0)]
)
