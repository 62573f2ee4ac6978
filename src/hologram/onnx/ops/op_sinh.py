"""Sinh: the hyperbolic sine elementwise."""

from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_sinh

elementwise("Sinh", onnx_sinh, since=9, check=floats_only)
