"""SoftmaxCrossEntropyLoss: the log-softmax of scores `(N, C, d1, ...)` over the classes
(axis 1), then the negative log-likelihood loss against class targets (see
`_reduce_losses`); the optional second output is the log-softmax itself."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._reduce_losses import launch_nll
from hologram.onnx.ops._reduce_rows import float_tensors, launch_log_softmax, rows
from hologram.onnx.registry import onnx_op


@onnx_op("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(ctx: OpContext) -> None:
    """The loss, and with a second output the log-probabilities."""
    scores, target, weight = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    float_tensors(ctx, scores, weight)
    if scores.rank < 2:
        raise ctx.error(f"takes scores of rank 2 or more, got shape {list(scores.shape)}")
    if ctx.has_output(1):
        logp = ctx.output(1, scores.shape, scores.elem)
    else:
        logp = ctx.scratch(scores.shape, scores.elem)
    launch_log_softmax(ctx, scores, logp, rows(scores.shape, 1))
    launch_nll(ctx, logp, target, weight, 0)
