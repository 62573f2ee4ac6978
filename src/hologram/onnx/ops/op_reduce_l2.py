"""ReduceL2: the square root of the sum of squares over axes (axes an input since
opset 18).

An empty reduction gives the identity of the operation (0, 1, -inf, +inf, ...)."""

from hologram.onnx.ops._reduce_ops import register_reduce

register_reduce("ReduceL2", "l2", axes_input_since=18)
