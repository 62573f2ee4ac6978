"""Min: the elementwise minimum of one or more broadcast tensors (NaN if any is NaN)."""

from hologram.kernels.vector.vector_minimum import minimum_value
from hologram.onnx.ops._elementwise import numbers_only, variadic

variadic("Min", minimum_value, since=6, check=numbers_only)
