"""ReduceLogSumExp: `log(sum(exp(x)))` over axes (axes an input since opset
18), computed as `max + log(sum(exp(x - max)))` so that `exp` cannot overflow.

An empty reduction gives the identity of the operation (0, 1, -inf, +inf, ...)."""

from hologram.onnx.ops._reduce_ops import register_reduce

register_reduce("ReduceLogSumExp", "log_sum_exp", axes_input_since=18)
