"""SpaceToDepth: blocks of space moved into channels, as one permuted copy (the inverse of
DepthToSpace)."""

from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import copy_permuted
from hologram.onnx.registry import onnx_op


@onnx_op("SpaceToDepth", since=1)
def space_to_depth(ctx: OpContext) -> None:
    """`(N, C, H, W)` to `(N, C * b**2, H / b, W / b)`; the new channels are ordered
    `(b, b, C)` in DCR mode (the only one before opset 28) and `(C, b, b)` in CRD mode."""
    x = ctx.input(0)
    b = ctx.attr("blocksize")
    mode = ctx.attr("mode", "DCR")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if x.rank != 4 or b < 1 or x.shape[2] % b or x.shape[3] % b:
        raise ctx.error(f"blocksize {b} does not divide the space of {x.shape}")
    n, c, h, w = x.shape
    view = (n, c, h // b, b, w // b, b)
    if mode == "DCR":
        perm = (0, 3, 5, 1, 2, 4)
    elif mode == "CRD":
        perm = (0, 1, 3, 5, 2, 4)
    else:
        raise ctx.error(f"unknown mode {mode!r}")
    out = ctx.output(0, (n, c * b * b, h // b, w // b), x.elem)
    copy_permuted(ctx, x, out, view, perm)
