"""Elu: `x` for x >= 0, else `alpha * (exp(x) - 1)` (alpha: 1)."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_expm1


@hg.func
def onnx_elu(x, alpha):
    """x, or alpha * expm1(x) below 0."""
    return x if x >= 0 else onnx_expm1(x) * alpha


elementwise(
    "Elu", onnx_elu, since=6, check=floats_only, scalars=lambda ctx: [ctx.attr("alpha", 1.0)]
)
