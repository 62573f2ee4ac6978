"""And: logical `a and b` of bool tensors, with broadcasting."""

import hologram as hg
from hologram.onnx.ops._elementwise import bools_only, elementwise


@hg.func
def onnx_and(a, b):
    """a and b."""
    return a & b


elementwise("And", onnx_and, since=7, check=bools_only)
