"""Softplus: `log(1 + exp(x))` elementwise, without overflow for large x."""

from hologram.onnx.ops._elementwise import elementwise, floats_only
from hologram.onnx.ops._math_funcs import onnx_softplus

elementwise("Softplus", onnx_softplus, since=1, check=floats_only)
