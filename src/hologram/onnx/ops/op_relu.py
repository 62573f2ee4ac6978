"""Relu: `max(x, 0)` elementwise."""

from hologram.kernels.activation.relu import relu_value
from hologram.onnx.ops._elementwise import elementwise, numbers_only

elementwise("Relu", relu_value, since=6, check=numbers_only)
