"""HardSigmoid: `max(0, min(1, alpha * x + beta))` (alpha: 0.2, beta: 0.5)."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_hard_sigmoid(x, alpha, beta):
    """alpha * x + beta clamped to [0, 1]."""
    return min(max(x * alpha + beta, 0), 1)


elementwise(
    "HardSigmoid",
    onnx_hard_sigmoid,
    since=6,
    check=floats_only,
    scalars=lambda ctx: [ctx.attr("alpha", 0.2), ctx.attr("beta", 0.5)],
)
