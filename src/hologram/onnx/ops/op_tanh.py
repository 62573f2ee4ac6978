"""Tanh: the hyperbolic tangent elementwise."""

from hologram.kernels.activation.tanh import tanh_value
from hologram.onnx.ops._elementwise import elementwise, floats_only

elementwise("Tanh", tanh_value, since=6, check=floats_only)
