"""Dropout at inference: the input passes through unchanged, and the mask is all true.

Training mode with a non-zero ratio draws a random mask; onnx's tests expect NumPy's
generator for it, so that case is not supported.
"""

from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._generator_kernels import fill
from hologram.onnx.registry import onnx_op


@onnx_op("Dropout", since=1, until=11)
def dropout_attrs(ctx: OpContext) -> None:
    """Opsets 1-11: `ratio` is an attribute; the mask (opset 10: bool) keeps everything.
    Opsets 1 and 6 default to training mode (`is_test=0`), but models of those opsets are
    run for inference, so the node passes its input through as other runtimes do."""
    _pass_through(ctx)


@onnx_op("Dropout", since=12)
def dropout(ctx: OpContext) -> None:
    """Opset 12: `ratio` and `training_mode` are inputs; training with a ratio is random."""
    training = ctx.has_input(2) and bool(ctx.value(2).reshape(-1)[0])
    ratio = float(ctx.value(1).reshape(-1)[0]) if ctx.has_input(1) else 0.5
    if training and ratio != 0:
        raise ctx.unsupported("training mode with a non-zero ratio draws a random mask")
    _pass_through(ctx)


def _pass_through(ctx: OpContext) -> None:
    x = ctx.input(0)
    ctx.set_output(0, x)
    if ctx.has_output(1):
        elem = types.BOOL if ctx.opset >= 10 else x.elem
        fill(ctx, 1, x.shape, elem, 1)
