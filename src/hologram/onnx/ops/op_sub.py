"""Sub: `a - b` with NumPy broadcasting (opsets 7, 13, 14: the same semantics)."""

from hologram.kernels.vector.vector_sub import sub_value
from hologram.onnx.ops._elementwise import elementwise, numbers_only

elementwise("Sub", sub_value, since=7, check=numbers_only)
