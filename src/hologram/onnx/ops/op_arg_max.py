"""ArgMax: the index of the largest element along `axis` (int64), the first of equal ones
or, with `select_last_index` (opset 12), the last; NaN counts as the largest."""

from hologram.onnx.ops._reduce_rows import register_arg_extreme

register_arg_extreme("ArgMax", largest=True)
