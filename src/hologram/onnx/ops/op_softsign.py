"""Softsign: `x / (1 + |x|)` elementwise."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_softsign(x):
    """x / (1 + |x|)."""
    return x / (hg.abs(x) + 1)


elementwise("Softsign", onnx_softsign, since=1, check=floats_only)
