"""Add: `a + b` with NumPy broadcasting (opsets 7, 13, 14: the same semantics)."""

from hologram.kernels.vector.vector_add import add_value
from hologram.onnx.ops._elementwise import elementwise, numbers_only

elementwise("Add", add_value, since=7, check=numbers_only)
