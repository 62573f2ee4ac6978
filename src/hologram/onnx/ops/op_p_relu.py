"""PRelu: `x` for x >= 0, else `slope * x`, the slope broadcast to x."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, numbers_only


@hg.func
def onnx_prelu(x, slope):
    """x, or slope * x below 0."""
    return x if x >= 0 else x * slope


elementwise("PRelu", onnx_prelu, since=7, check=numbers_only)
