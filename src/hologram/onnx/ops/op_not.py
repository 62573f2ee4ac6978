"""Not: logical negation of a bool tensor."""

import hologram as hg
from hologram.onnx.ops._elementwise import bools_only, elementwise


@hg.func
def onnx_not(x):
    """not x."""
    return not x


elementwise("Not", onnx_not, since=1, check=bools_only)
