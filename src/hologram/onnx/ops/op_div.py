"""Div: `a / b` with NumPy broadcasting; integer division truncates toward zero."""

from hologram.kernels.vector.vector_div import div_value
from hologram.onnx.ops._elementwise import elementwise, numbers_only

elementwise("Div", div_value, since=7, check=numbers_only)
