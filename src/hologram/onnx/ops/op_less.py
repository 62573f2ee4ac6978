"""Less: `a < b` elementwise with broadcasting, a bool tensor."""

import hologram as hg
from hologram.onnx.ops._elementwise import boolean, compute_of_first, elementwise, numbers_only


@hg.func
def onnx_less(a, b):
    """a < b."""
    return a < b


elementwise("Less", onnx_less, since=7, check=numbers_only, out=boolean, compute=compute_of_first)
