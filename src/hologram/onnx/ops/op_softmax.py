"""Softmax: `exp(x - max) / sum(exp(x - max))` along rows (see `_reduce_rows.softmax_rows`
for the axis semantics of opsets 1..12 and 13). Contiguous rows of float32 and float64 (the
last axis) take the standard library's `softmax_rows`, one lane a row in vector loops; other
views take its strided `softmax`; f16 and bf16 are computed in f32."""

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.kernels.normalization.softmax import softmax as softmax_kernel
from hologram.kernels.normalization.softmax_rows import NO_SCALE
from hologram.kernels.normalization.softmax_rows import softmax_rows as rows_kernel
from hologram.onnx.ops._reduce_rows import BLOCK, compute_dtype, float_tensors, softmax_rows
from hologram.onnx.registry import onnx_op

ROW_BLOCK = 64
"""Lanes (rows) per block of `softmax_rows`: few enough that a small batch still spreads
over several blocks, and so over the cpu's threads."""


@onnx_op("Softmax", since=1)
def softmax(ctx: OpContext) -> None:
    """Softmax along the rows of `softmax_rows`."""
    x = ctx.input(0)
    float_tensors(ctx, x)
    out = ctx.output(0, x.shape, x.elem)
    outer, r, inner = softmax_rows(ctx, x)
    n = outer * inner
    if not n * r:
        return
    if inner == 1 and x.elem in (types.FLOAT, types.DOUBLE):
        launch_rows(ctx, x, out, n, r)
        return
    compute = compute_dtype(x.elem)
    args = [x, out, n, r, inner, compute, compute == x.dtype]
    ctx.launch(softmax_kernel, hg.blocks(n, BLOCK), BLOCK, args)


def launch_rows(
    ctx: OpContext,
    x: TensorRef,
    out: TensorRef,
    rows: int,
    cols: int,
    *,
    scale: float = 1.0,
    scaling: int = NO_SCALE,
    mask: TensorRef | None = None,
    mask_table: TensorRef | None = None,
    mask_rank: int = 0,
    mask_cols: bool = True,
) -> None:
    """`out` = the softmax of the `rows` contiguous rows of `cols` elements of `x` (float32 or
    float64; `out` may be `x`), of `x` scaled and masked first as `softmax_rows` says."""
    if mask_table is None:
        mask_table = ctx.constant(np.zeros(1, np.int64))
    args = [x, out, x if mask is None else mask, mask_table, rows, cols, float(scale)]
    consts = [int(scaling), int(mask_rank), bool(mask_cols), x is out]
    ctx.launch(rows_kernel, hg.blocks(rows, ROW_BLOCK), ROW_BLOCK, [*args, *consts])
