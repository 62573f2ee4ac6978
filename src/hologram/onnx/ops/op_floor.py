"""Floor: the largest whole number not above x, elementwise."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_floor(x):
    """floor(x)."""
    return hg.floor(x)


elementwise("Floor", onnx_floor, since=6, check=floats_only)
