"""Hardmax: 1 at the first largest element of each row, 0 elsewhere (see
`_reduce_rows.softmax_rows` for the axis semantics of opsets 1..12 and 13)."""

import hologram as hg
from hologram.compiler.context import OpContext
from hologram.onnx.ops._reduce_rows import (
    BLOCK,
    float_tensors,
    onnx_arg_better,
    onnx_row_start,
    softmax_rows,
)
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_hardmax(x: hg.Array, out: hg.Array, n: hg.uint32, r: hg.uint32, inner: hg.uint32):
    """Lane `j < n` writes its row: 1 at the first largest element, 0 elsewhere."""
    j = hg.uint32(hg.global_id())
    if j < n:
        first = onnx_row_start(j, r, inner)
        step = hg.int64(inner)
        best = x[first]
        found = hg.int64(0)
        for k in range(hg.int64(r)):
            v = x[first + k * step]
            out[first + k * step] = 0
            if onnx_arg_better(v, best, True, False):
                best = v
                found = k
        out[first + found * step] = 1


@onnx_op("Hardmax", since=1)
def hardmax(ctx: OpContext) -> None:
    """Hardmax along the rows of `softmax_rows`."""
    x = ctx.input(0)
    float_tensors(ctx, x)
    out = ctx.output(0, x.shape, x.elem)
    outer, r, inner = softmax_rows(ctx, x)
    n = outer * inner
    if n * r:
        ctx.launch(onnx_hardmax, hg.blocks(n, BLOCK), BLOCK, [x, out, n, r, inner])
