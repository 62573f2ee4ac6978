"""ThresholdedRelu: `x` where x > alpha, else 0 (alpha: 1)."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_thresholded_relu(x, alpha):
    """x above alpha, else 0."""
    return x if x > alpha else x.dtype(0)


elementwise(
    "ThresholdedRelu",
    onnx_thresholded_relu,
    since=10,
    check=floats_only,
    scalars=lambda ctx: [ctx.attr("alpha", 1.0)],
)
