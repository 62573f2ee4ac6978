"""Sum: the elementwise sum of one or more broadcast tensors."""

from hologram.kernels.vector.vector_add import add_value
from hologram.onnx.ops._elementwise import numbers_only, variadic

variadic("Sum", add_value, since=6, check=numbers_only)
