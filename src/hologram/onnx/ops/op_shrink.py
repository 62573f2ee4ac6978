"""Shrink: `x + bias` below `-lambd`, `x - bias` above `lambd`, else 0 (lambd: 0.5, bias: 0).

Integer tensors compute in float64 (the attributes are floats) and truncate at the store.
"""

import hologram as hg
from hologram.onnx.ops._elementwise import compute_in_float, elementwise, numbers_only


@hg.func
def onnx_shrink(x, lambd, bias):
    """Soft or hard shrinkage of x by lambd, moved toward 0 by bias."""
    if x < -lambd:
        return x + bias
    if x > lambd:
        return x - bias
    return x.dtype(0)


elementwise(
    "Shrink",
    onnx_shrink,
    since=9,
    compute=compute_in_float,
    check=numbers_only,
    scalars=lambda ctx: [ctx.attr("lambd", 0.5), ctx.attr("bias", 0.0)],
)
