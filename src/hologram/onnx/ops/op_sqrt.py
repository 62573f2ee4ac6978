"""Sqrt: the square root elementwise (NaN for negative inputs)."""

from hologram.kernels.math.sqrt import sqrt_value
from hologram.onnx.ops._elementwise import elementwise, floats_only

elementwise("Sqrt", sqrt_value, since=6, check=floats_only)
