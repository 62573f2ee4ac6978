"""BitwiseAnd: `a & b` of integer tensors, with broadcasting."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, integers_only


@hg.func
def onnx_bitwise_and(a, b):
    """a & b."""
    return a & b


elementwise("BitwiseAnd", onnx_bitwise_and, since=18, check=integers_only)
