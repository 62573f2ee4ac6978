"""IsInf: true where x is infinite (attributes `detect_positive`, `detect_negative`: 1)."""

import math

import hologram as hg
from hologram.onnx.ops._elementwise import boolean, compute_of_first, elementwise, floats_only

INF = math.inf


@hg.func
def onnx_is_inf(x, positive, negative):
    """x is +inf (when `positive` is non-zero) or -inf (when `negative` is)."""
    return (x == INF and positive != 0) or (x == -INF and negative != 0)


elementwise(
    "IsInf",
    onnx_is_inf,
    since=10,
    out=boolean,
    compute=compute_of_first,
    check=floats_only,
    scalars=lambda ctx: [ctx.attr("detect_positive", 1), ctx.attr("detect_negative", 1)],
)
