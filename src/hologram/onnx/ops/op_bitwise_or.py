"""BitwiseOr: `a | b` of integer tensors, with broadcasting."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, integers_only


@hg.func
def onnx_bitwise_or(a, b):
    """a | b."""
    return a | b


elementwise("BitwiseOr", onnx_bitwise_or, since=18, check=integers_only)
