"""Asin: the arcsine elementwise, in [-pi/2, pi/2]; NaN outside [-1, 1]."""

from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_asin

elementwise("Asin", onnx_asin, since=7, check=floats_only)
