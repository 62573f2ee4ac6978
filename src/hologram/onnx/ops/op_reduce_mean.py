"""ReduceMean: the arithmetic mean over axes (axes an input since opset 18);
integers truncate the mean toward zero.

An empty reduction divides 0 by 0 (NaN for floats)."""

from hologram.onnx.ops._reduce_ops import register_reduce

register_reduce("ReduceMean", "mean", axes_input_since=18)
