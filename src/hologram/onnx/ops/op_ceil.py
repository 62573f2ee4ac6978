"""Ceil: the smallest whole number not below x, elementwise."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_ceil(x):
    """ceil(x)."""
    return hg.ceil(x)


elementwise("Ceil", onnx_ceil, since=6, check=floats_only)
