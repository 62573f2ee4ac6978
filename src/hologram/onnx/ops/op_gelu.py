"""Gelu: `x * Phi(x)` with the normal CDF exact (`approximate="none"`) or through tanh."""

import math

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.kernels.activation.gelu import gelu_value
from hologram.onnx.ops._elementwise import elementwise, floats_only

SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


@hg.func
def onnx_gelu_tanh(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    inner = (x + x * x * x * 0.044715) * SQRT_2_OVER_PI
    return x * 0.5 * (hg.tanh(inner) + 1)


@hg.func
def onnx_gelu(x, approximate):
    """GELU through tanh when `approximate` is non-zero, else exact (through erf)."""
    if approximate != 0:
        return onnx_gelu_tanh(x)
    return gelu_value(x)


def approximation(ctx: OpContext) -> list[int]:
    """The scalar Gelu's func reads: 1 for the tanh form, 0 for the exact one."""
    value = ctx.attr("approximate", "none")
    value = value.decode() if isinstance(value, bytes) else value
    if value not in ("none", "tanh"):
        raise ctx.error(f"approximate must be 'none' or 'tanh', got {value!r}")
    return [int(value == "tanh")]


elementwise("Gelu", onnx_gelu, since=20, check=floats_only, scalars=approximation)
