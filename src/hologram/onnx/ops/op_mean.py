"""Mean: the elementwise mean of one or more broadcast tensors."""

from hologram.kernels.vector.vector_add import add_value
from hologram.kernels.vector.vector_div import div_value
from hologram.onnx.ops._elementwise import floats_only, variadic

variadic("Mean", add_value, since=6, finish=div_value, check=floats_only)
