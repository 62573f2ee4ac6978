"""Multinomial: `sample_size` class indices per row of unnormalized log probabilities
(see `_random_kernels`)."""

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._random_kernels import BLOCK, onnx_multinomial, seed_of
from hologram.onnx.registry import onnx_op


@onnx_op("Multinomial", since=7, pure=False)
def multinomial(ctx: OpContext) -> None:
    """Input `[batch, classes]`; output `[batch, sample_size]` of `dtype` (int32 or int64)."""
    logits = ctx.input(0)
    if logits.rank != 2 or logits.shape[1] == 0:
        raise ctx.error(f"takes a [batch, classes] tensor, got {list(logits.shape)}")
    elem = ctx.attr("dtype", types.INT32)
    if elem not in (types.INT32, types.INT64):
        raise ctx.error(f"dtype must be int32 or int64, got {types.elem_name(elem)}")
    samples = ctx.attr("sample_size", 1)
    out = ctx.output(0, (logits.shape[0], samples), elem)
    if out.size:
        args = [logits, out, out.size, logits.shape[1], samples, seed_of(ctx)]
        ctx.launch(onnx_multinomial, hg.blocks(out.size, BLOCK), BLOCK, args)
