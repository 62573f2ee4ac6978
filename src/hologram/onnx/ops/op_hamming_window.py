"""HammingWindow (opset 17): `25/46 - 21/46 cos(2 pi n / N)`."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._signal_kernels import cosine_window
from hologram.onnx.registry import onnx_op


@onnx_op("HammingWindow", since=17)
def hamming_window(ctx: OpContext) -> None:
    """A Hamming window of the size input 0 gives (see `cosine_window`)."""
    cosine_window(ctx, 25 / 46, 21 / 46, 0.0)
