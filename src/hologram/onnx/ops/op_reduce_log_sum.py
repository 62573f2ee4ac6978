"""ReduceLogSum: the logarithm of the sum over axes (axes an input since opset
18).

An empty reduction gives the identity of the operation (0, 1, -inf, +inf, ...)."""

from hologram.onnx.ops._reduce_ops import register_reduce

register_reduce("ReduceLogSum", "log_sum", axes_input_since=18)
