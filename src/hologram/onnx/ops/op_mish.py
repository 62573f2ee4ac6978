"""Mish: `x * tanh(softplus(x))` elementwise."""

import hologram as hg
from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_softplus


@hg.func
def onnx_mish(x):
    """x * tanh(log(1 + exp(x)))."""
    return x * hg.tanh(onnx_softplus(x))


elementwise("Mish", onnx_mish, since=18, check=floats_only)
