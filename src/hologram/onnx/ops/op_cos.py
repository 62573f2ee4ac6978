"""Cos: the cosine elementwise."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_cos(x):
    """cos(x)."""
    return hg.cos(x)


elementwise("Cos", onnx_cos, since=7, check=floats_only)
