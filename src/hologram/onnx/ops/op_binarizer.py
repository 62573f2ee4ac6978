"""ai.onnx.ml Binarizer: 1 where x > threshold, else 0, in x's type (threshold: 0)."""

import hologram as hg
from hologram.onnx.ops._elementwise import compute_in_float, elementwise, numbers_only


@hg.func
def onnx_binarizer(x, threshold):
    """1 above the threshold, else 0."""
    return x.dtype(1) if x > threshold else x.dtype(0)


elementwise(
    "Binarizer",
    onnx_binarizer,
    since=1,
    compute=compute_in_float,
    check=numbers_only,
    scalars=lambda ctx: [ctx.attr("threshold", 0.0)],
    domain="ai.onnx.ml",
)
