"""Abs: `|x|` elementwise (the most negative integer stays as it is)."""

from hologram.kernels.math.abs import abs_value
from hologram.onnx.ops._elementwise import elementwise, numbers_only

elementwise("Abs", abs_value, since=6, check=numbers_only)
