"""BitwiseXor: `a ^ b` of integer tensors, with broadcasting."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, integers_only


@hg.func
def onnx_bitwise_xor(a, b):
    """a ^ b."""
    return a ^ b


elementwise("BitwiseXor", onnx_bitwise_xor, since=18, check=integers_only)
