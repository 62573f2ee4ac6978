"""Log: the natural logarithm elementwise."""

from hologram.kernels.math.log import log_value
from hologram.onnx.ops._elementwise import elementwise, floats_only

elementwise("Log", log_value, since=6, check=floats_only)
