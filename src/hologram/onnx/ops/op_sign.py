"""Sign: -1, 0 or 1 by the sign of x elementwise (NaN stays NaN, zeros keep theirs)."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, numbers_only


@hg.func
def onnx_sign(x):
    """1 for positive x, -1 for negative x, else x itself (0 or NaN)."""
    one = x.dtype(1)
    return one if x > 0 else (-one if x < 0 else x)


elementwise("Sign", onnx_sign, since=9, check=numbers_only)
