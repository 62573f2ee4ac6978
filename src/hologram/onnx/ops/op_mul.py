"""Mul: `a * b` with NumPy broadcasting (integers wrap)."""

from hologram.kernels.vector.vector_mul import mul_value
from hologram.onnx.ops._elementwise import elementwise, numbers_only

elementwise("Mul", mul_value, since=7, check=numbers_only)
