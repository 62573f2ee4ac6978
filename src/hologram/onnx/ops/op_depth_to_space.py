"""DepthToSpace: blocks of channels moved into space, as one permuted copy.

With `b` the block size, `(N, C, H, W)` is viewed as 6 axes and permuted: DCR mode reads
the channels as `(b, b, C / b**2)`, CRD mode as `(C / b**2, b, b)`.
"""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import copy_permuted
from hologram.onnx.registry import onnx_op


@onnx_op("DepthToSpace", since=1)
def depth_to_space(ctx: OpContext) -> None:
    """`(N, C, H, W)` to `(N, C / b**2, H * b, W * b)`."""
    x = ctx.input(0)
    b = ctx.attr("blocksize")
    mode = ctx.attr("mode", "DCR")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if x.rank != 4 or b < 1 or x.shape[1] % (b * b):
        raise ctx.error(f"blocksize {b} does not divide the channels of {x.shape}")
    n, c, h, w = x.shape
    depth = c // (b * b)
    if mode == "DCR":
        view, perm = (n, b, b, depth, h, w), (0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        view, perm = (n, depth, b, b, h, w), (0, 1, 4, 2, 5, 3)
    else:
        raise ctx.error(f"unknown mode {mode!r}")
    out = ctx.output(0, (n, depth, h * b, w * b), x.elem)
    copy_permuted(ctx, x, out, view, perm)
