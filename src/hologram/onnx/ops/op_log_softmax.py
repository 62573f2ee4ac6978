"""LogSoftmax: `x - max - log(sum(exp(x - max)))` along rows (see
`_reduce_rows.softmax_rows` for the axis semantics of opsets 1..12 and 13); f16 and bf16 are
computed in f32."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._reduce_rows import float_tensors, launch_log_softmax, softmax_rows
from hologram.onnx.registry import onnx_op


@onnx_op("LogSoftmax", since=1)
def log_softmax(ctx: OpContext) -> None:
    """LogSoftmax along the rows of `softmax_rows`."""
    x = ctx.input(0)
    float_tensors(ctx, x)
    out = ctx.output(0, x.shape, x.elem)
    launch_log_softmax(ctx, x, out, softmax_rows(ctx, x))
