"""Sigmoid: `1 / (1 + exp(-x))` elementwise."""

from hologram.kernels.activation.sigmoid import sigmoid_value
from hologram.onnx.ops._elementwise import elementwise, floats_only

elementwise("Sigmoid", sigmoid_value, since=6, check=floats_only)
