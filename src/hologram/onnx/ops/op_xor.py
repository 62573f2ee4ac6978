"""Xor: logical `a xor b` of bool tensors, with broadcasting."""

import hologram as hg
from hologram.onnx.ops._elementwise import bools_only, elementwise


@hg.func
def onnx_xor(a, b):
    """a xor b."""
    return a ^ b


elementwise("Xor", onnx_xor, since=7, check=bools_only)
