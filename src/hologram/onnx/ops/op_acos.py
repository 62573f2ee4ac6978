"""Acos: the arccosine elementwise, in [0, pi]; NaN outside [-1, 1]."""

from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_acos

elementwise("Acos", onnx_acos, since=7, check=floats_only)
