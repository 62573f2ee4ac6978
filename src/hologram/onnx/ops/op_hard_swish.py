"""HardSwish: `x * max(0, min(1, x / 6 + 1/2))` elementwise."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only


@hg.func
def onnx_hard_swish(x):
    """x * clamp(x / 6 + 1/2, 0, 1)."""
    return x * min(max(x * (1 / 6) + 0.5, 0), 1)


elementwise("HardSwish", onnx_hard_swish, since=14, check=floats_only)
