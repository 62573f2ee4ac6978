"""Relu: `max(x, 0)` elementwise."""

from hologram.kernels.activation.relu import relu_value
from hologram.onnx.ops._elementwise import elementwise

elementwise("Relu", relu_value, since=6)
