"""IsNaN: true where x is NaN."""

import hologram as hg
from hologram.onnx.ops._elementwise import boolean, compute_of_first, elementwise, floats_only


@hg.func
def onnx_is_nan(x):
    """x is NaN (the one value unequal to itself)."""
    return x != x


elementwise("IsNaN", onnx_is_nan, since=9, check=floats_only, out=boolean, compute=compute_of_first)
