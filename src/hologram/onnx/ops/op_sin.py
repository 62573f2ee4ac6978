"""Sin: the sine elementwise."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_sin(x):
    """sin(x)."""
    return hg.sin(x)


elementwise("Sin", onnx_sin, since=7, check=floats_only)
