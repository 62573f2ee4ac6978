"""SwiGLU: `Swish_alpha(a) * b` of a gate `a` and a value `b` of one shape (alpha: 1)."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_swiglu(a, b, alpha):
    """a * sigmoid(alpha * a) * b."""
    return a * hg.sigmoid(a * alpha) * b


elementwise(
    "SwiGLU", onnx_swiglu, since=28, check=floats_only, scalars=lambda ctx: [ctx.attr("alpha", 1.0)]
)
