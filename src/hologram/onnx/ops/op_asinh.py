"""Asinh: the inverse hyperbolic sine elementwise."""

from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_asinh

elementwise("Asinh", onnx_asinh, since=9, check=floats_only)
