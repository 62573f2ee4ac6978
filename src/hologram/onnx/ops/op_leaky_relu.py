"""LeakyRelu: `x` for x >= 0, else `alpha * x` (alpha: 0.01)."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_leaky_relu(x, alpha):
    """x, or alpha * x below 0."""
    return x if x >= 0 else x * alpha


elementwise(
    "LeakyRelu",
    onnx_leaky_relu,
    since=6,
    check=floats_only,
    scalars=lambda ctx: [ctx.attr("alpha", 0.01)],
)
