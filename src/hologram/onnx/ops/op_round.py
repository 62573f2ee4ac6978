"""Round: the nearest whole number elementwise, halves to even."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_round(x):
    """x rounded half to even."""
    return hg.round(x)


elementwise("Round", onnx_round, since=11, check=floats_only)
