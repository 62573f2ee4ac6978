"""Atanh: the inverse hyperbolic tangent elementwise; NaN outside [-1, 1]."""

from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_atanh

elementwise("Atanh", onnx_atanh, since=9, check=floats_only)
