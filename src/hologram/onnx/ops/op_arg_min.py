"""ArgMin: the index of the smallest element along `axis` (int64), the first of equal ones
or, with `select_last_index` (opset 12), the last; NaN counts as the smallest."""

from hologram.onnx.ops._reduce_rows import register_arg_extreme

register_arg_extreme("ArgMin", largest=False)
