"""EyeLike: a 2-D tensor of the input's shape with ones on a diagonal, zeros elsewhere."""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._generator_kernels import BLOCK, onnx_eye
from hologram.onnx.registry import onnx_op


@onnx_op("EyeLike", since=9)
def eye_like(ctx: OpContext) -> None:
    """Ones where `column - row == k`, in `dtype` (the input's element type by default)."""
    x = ctx.input(0)
    if x.rank != 2:
        raise ctx.error(f"takes a 2-D tensor, got shape {list(x.shape)}")
    elem = ctx.attr("dtype", x.elem)
    if types.is_byte_coded(elem) or elem == types.STRING:
        raise ctx.unsupported(f"outputs of {types.elem_name(elem)} are not supported")
    out = ctx.output(0, x.shape, elem)
    if out.size:
        args = [out, out.size, x.shape[1], ctx.attr("k", 0)]
        ctx.launch(onnx_eye, hg.blocks(out.size, BLOCK), BLOCK, args)
