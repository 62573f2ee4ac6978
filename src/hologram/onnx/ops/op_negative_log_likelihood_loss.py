"""NegativeLogLikelihoodLoss: the loss of log-probabilities `(N, C, d1, ...)` against class
targets `(N, d1, ...)`, with optional class weights, `ignore_index` and `reduction` (see
`_reduce_losses`)."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._reduce_losses import launch_nll
from hologram.onnx.ops._reduce_rows import float_tensors
from hologram.onnx.registry import onnx_op


@onnx_op("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(ctx: OpContext) -> None:
    """The loss, reduced as `reduction` (default mean) says."""
    logp, target, weight = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    float_tensors(ctx, logp, weight)
    launch_nll(ctx, logp, target, weight, 0)
