"""Softmax: `exp(x - max) / sum(exp(x - max))` along rows (see `_reduce_rows.softmax_rows`
for the axis semantics of opsets 1..12 and 13), with the standard library's softmax kernel;
f16 and bf16 are computed in f32."""

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.kernels.normalization.softmax import softmax as softmax_kernel
from hologram.onnx.ops._reduce_rows import BLOCK, compute_dtype, float_tensors, softmax_rows
from hologram.onnx.registry import onnx_op


@onnx_op("Softmax", since=1)
def softmax(ctx: OpContext) -> None:
    """Softmax along the rows of `softmax_rows`."""
    x = ctx.input(0)
    float_tensors(ctx, x)
    out = ctx.output(0, x.shape, x.elem)
    outer, r, inner = softmax_rows(ctx, x)
    n = outer * inner
    if n * r:
        compute = compute_dtype(x.elem)
        args = [x, out, n, r, inner, compute, compute == x.dtype]
        ctx.launch(softmax_kernel, hg.blocks(n, BLOCK), BLOCK, args)
