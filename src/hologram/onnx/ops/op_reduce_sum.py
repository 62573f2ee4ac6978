"""ReduceSum: the sum of the elements over axes (axes an input since opset 13).

An empty reduction gives the identity of the operation (0, 1, -inf, +inf, ...)."""

from hologram.onnx.ops._reduce_ops import register_reduce

register_reduce("ReduceSum", "sum", axes_input_since=13)
