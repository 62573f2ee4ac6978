"""Or: logical `a or b` of bool tensors, with broadcasting."""

import hologram as hg
from hologram.onnx.ops._elementwise import bools_only, elementwise


@hg.func
def onnx_or(a, b):
    """a or b."""
    return a | b


elementwise("Or", onnx_or, since=7, check=bools_only)
