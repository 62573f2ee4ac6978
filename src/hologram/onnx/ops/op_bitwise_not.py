"""BitwiseNot: `~x` of an integer tensor."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, integers_only


@hg.func
def onnx_bitwise_not(x):
    """~x."""
    return ~x


elementwise("BitwiseNot", onnx_bitwise_not, since=18, check=integers_only)
