"""Celu: `max(0, x) + min(0, alpha * (exp(x / alpha) - 1))` (alpha: 1)."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_expm1


@hg.func
def onnx_celu(x, alpha):
    """x for x >= 0, else alpha * expm1(x / alpha)."""
    return x if x >= 0 else onnx_expm1(x / alpha) * alpha


elementwise(
    "Celu", onnx_celu, since=12, check=floats_only, scalars=lambda ctx: [ctx.attr("alpha", 1.0)]
)
