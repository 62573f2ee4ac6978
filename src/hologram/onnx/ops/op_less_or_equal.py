"""LessOrEqual: `a <= b` elementwise with broadcasting, a bool tensor."""

import hologram as hg
from hologram.onnx.ops._elementwise import boolean, compute_of_first, elementwise, numbers_only


@hg.func
def onnx_less_or_equal(a, b):
    """a <= b."""
    return a <= b


elementwise(
    "LessOrEqual",
    onnx_less_or_equal,
    since=12,
    check=numbers_only,
    out=boolean,
    compute=compute_of_first,
)
