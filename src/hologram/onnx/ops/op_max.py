"""Max: the elementwise maximum of one or more broadcast tensors (NaN if any is NaN)."""

from hologram.kernels.vector.vector_maximum import maximum_value
from hologram.onnx.ops._elementwise import numbers_only, variadic

variadic("Max", maximum_value, since=6, check=numbers_only)
