"""Erf: the error function elementwise (integers compute in float64)."""

import hologram as hg
from hologram.onnx.ops._elementwise import compute_in_float, elementwise, numbers_only


@hg.func
def onnx_erf(x):
    """erf(x)."""
    return hg.erf(x)


elementwise("Erf", onnx_erf, since=9, check=numbers_only, compute=compute_in_float)
