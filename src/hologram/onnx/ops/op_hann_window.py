"""HannWindow (opset 17): `0.5 - 0.5 cos(2 pi n / N)`, i.e. `sin(pi n / N) ** 2`."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._signal_kernels import cosine_window
from hologram.onnx.registry import onnx_op


@onnx_op("HannWindow", since=17)
def hann_window(ctx: OpContext) -> None:
    """A Hann window of the size input 0 gives (see `cosine_window`)."""
    cosine_window(ctx, 0.5, 0.5, 0.0)
