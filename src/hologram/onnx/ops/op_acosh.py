"""Acosh: the inverse hyperbolic cosine elementwise; NaN below 1."""

from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_acosh

elementwise("Acosh", onnx_acosh, since=9, check=floats_only)
