"""BlackmanWindow (opset 17): `0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)`."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._signal_kernels import cosine_window
from hologram.onnx.registry import onnx_op


@onnx_op("BlackmanWindow", since=17)
def blackman_window(ctx: OpContext) -> None:
    """A Blackman window of the size input 0 gives (see `cosine_window`)."""
    cosine_window(ctx, 0.42, 0.5, 0.08)
