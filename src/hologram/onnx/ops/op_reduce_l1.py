"""ReduceL1: the sum of absolute values over axes (axes an input since opset 18).

An empty reduction gives the identity of the operation (0, 1, -inf, +inf, ...)."""

from hologram.onnx.ops._reduce_ops import register_reduce

register_reduce("ReduceL1", "l1", axes_input_since=18)
