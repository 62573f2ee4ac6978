"""Selu: `gamma * x` for x > 0, else `gamma * alpha * (exp(x) - 1)`."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_expm1

ALPHA = 1.67326319217681884765625
GAMMA = 1.05070102214813232421875


@hg.func
def onnx_selu(x, alpha, gamma):
    """gamma * (x above 0, else alpha * expm1(x))."""
    return (x if x > 0 else onnx_expm1(x) * alpha) * gamma


elementwise(
    "Selu",
    onnx_selu,
    since=6,
    check=floats_only,
    scalars=lambda ctx: [ctx.attr("alpha", ALPHA), ctx.attr("gamma", GAMMA)],
)
