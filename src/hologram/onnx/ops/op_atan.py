"""Atan: the arctangent elementwise, in [-pi/2, pi/2]."""

from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_atan

elementwise("Atan", onnx_atan, since=7, check=floats_only)
