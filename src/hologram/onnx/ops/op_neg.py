"""Neg: `-x` elementwise."""

from hologram.kernels.math.neg import neg_value
from hologram.onnx.ops._elementwise import elementwise, numbers_only

elementwise("Neg", neg_value, since=6, check=numbers_only)
