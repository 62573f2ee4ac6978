"""Equal: `a == b` elementwise with broadcasting, a bool tensor."""

import hologram as hg
from hologram.onnx.ops._elementwise import boolean, compute_of_first, elementwise, numbers_or_bools


@hg.func
def onnx_equal(a, b):
    """a == b."""
    return a == b


elementwise(
    "Equal", onnx_equal, since=7, check=numbers_or_bools, out=boolean, compute=compute_of_first
)
