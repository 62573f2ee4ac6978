"""Tan: the tangent elementwise (see `_math_funcs.onnx_tan`)."""

from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_tan

elementwise("Tan", onnx_tan, since=7, check=floats_only)
