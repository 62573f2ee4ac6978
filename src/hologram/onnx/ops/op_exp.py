"""Exp: `e ** x` elementwise."""

from hologram.kernels.math.exp import exp_value
from hologram.onnx.ops._elementwise import elementwise, floats_only

elementwise("Exp", exp_value, since=6, check=floats_only)
