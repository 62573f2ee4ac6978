"""ReduceMax: the largest element over axes (axes an input since opset 18; bool
tensors since opset 20). NaN wins.

An empty reduction gives the identity of the operation (0, 1, -inf, +inf, ...)."""

from hologram.onnx.ops._reduce_ops import register_reduce

register_reduce("ReduceMax", "max", axes_input_since=18)
