"""Reciprocal: `1 / x` elementwise."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_reciprocal(x):
    """1 / x."""
    return 1 / x


elementwise("Reciprocal", onnx_reciprocal, since=6, check=floats_only)
