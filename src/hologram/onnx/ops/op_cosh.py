"""Cosh: the hyperbolic cosine elementwise."""

from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_cosh

elementwise("Cosh", onnx_cosh, since=9, check=floats_only)
