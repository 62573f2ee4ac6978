"""Trilu: the upper or lower triangle of each matrix of the input, the rest zeroed."""

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import BLOCK
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_trilu(
    x: hg.Array,
    k: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    rows: hg.uint32,
    cols: hg.uint32,
    upper: hg.Const[bool] = True,
):
    """Lane `i < n` keeps element `(r, c)` of its `rows x cols` matrix where `c - r >= k[0]`
    (`upper`) or `c - r <= k[0]`, else writes 0."""
    i = hg.uint32(hg.global_id())
    if i < n:
        c = hg.int64(i % cols)
        r = hg.int64((i // cols) % rows)
        diagonal = hg.int64(k[0])
        keep = c - r >= diagonal if upper else c - r <= diagonal
        out[i] = x[i] if keep else out.dtype(0)


@onnx_op("Trilu", since=14)
def trilu(ctx: OpContext) -> None:
    """Diagonal offset `k` from optional input 1 (read by the kernel); `upper` (default 1)."""
    x = ctx.input(0)
    if x.rank < 2:
        raise ctx.error(f"needs a tensor of rank 2 or more, got rank {x.rank}")
    k = ctx.optional_input(1)
    if k is None:
        k = ctx.constant(np.zeros(1, np.int64), types.INT64)
    elif k.size != 1:
        raise ctx.error("k must hold one value")
    out = ctx.output(0, x.shape, x.elem)
    if out.size:
        args = [x, k, out, out.size, x.shape[-2], x.shape[-1], bool(ctx.attr("upper", 1))]
        ctx.launch(onnx_trilu, hg.blocks(out.size, BLOCK), BLOCK, args)
