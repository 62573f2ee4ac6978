"""ai.hologram.FusedAttention: `softmax(Q @ Kt [* or / scale] [+ mask]) @ V` in three launches.

Made by `compiler/passes/fuse_attention.py` from the MatMul-Softmax-MatMul pattern that
transformers export. Inputs: Q, Kt (the keys already transposed, as the first MatMul reads
them), V, then the mask when `has_mask`. Attributes: `scaling` (0 none, 1 multiply, 2 divide,
as `kernels/normalization/softmax_rows.py` numbers them) and `scale`, the scalar.

The scores go to a scratch tensor through the batched MATMUL intrinsic; one row kernel
scales, masks and normalises them in place (`softmax_rows`, one lane a row); a second batched
MATMUL multiplies them by V into the output. The mask may broadcast along any dimension of
the scores; along the rows it is read through a table of its strides, once per row.
"""

from __future__ import annotations

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._nn_kernels import fill
from hologram.onnx.ops.op_matmul import batch_matmul, product_shape
from hologram.onnx.ops.op_softmax import launch_rows
from hologram.onnx.registry import HOLOGRAM_DOMAIN, onnx_op


@onnx_op("FusedAttention", since=1, domain=HOLOGRAM_DOMAIN)
def fused_attention(ctx: OpContext) -> None:
    """`softmax(scale(Q @ Kt) + mask, axis=-1) @ V`."""
    q, kt, v = ctx.input(0), ctx.input(1), ctx.input(2)
    mask = ctx.input(3) if ctx.attr("has_mask", 0) else None
    for ref in (kt, v, mask):
        if ref is not None and ref.elem != q.elem:
            raise ctx.error(
                f"inputs must share one type, got {types.elem_name(q.elem)} "
                f"and {types.elem_name(ref.elem)}"
            )
    if q.elem not in (types.FLOAT, types.DOUBLE):
        raise ctx.unsupported(f"FusedAttention of {types.elem_name(q.elem)} tensors")
    if min(q.rank, kt.rank, v.rank) < 2:
        raise ctx.error(f"Q, Kt and V must have 2 or more dimensions, got {q.rank}, {kt.rank}")
    shape, batch_shape, m, n, k = product_shape(ctx, q, kt)
    scores = ctx.scratch(shape, q.elem)
    out_shape, out_batch, m2, n2, k2 = product_shape(ctx, scores, v)
    out = ctx.output(0, out_shape, q.elem)
    if out.size == 0:
        return
    if scores.size:
        if k == 0:
            fill(ctx, scores, 0)
        else:
            batch_matmul(ctx, q, kt, scores, batch_shape, m, n, k)
        options = {"scale": float(ctx.attr("scale", 1.0)), "scaling": int(ctx.attr("scaling", 0))}
        if mask is not None:
            options.update(_mask_options(ctx, mask, shape))
        launch_rows(ctx, scores, scores, scores.size // n, n, **options)  # type: ignore[arg-type]
    if k2 == 0:
        fill(ctx, out, 0)
    else:
        batch_matmul(ctx, scores, v, out, out_batch, m2, n2, k2)


def _mask_options(ctx: OpContext, mask: TensorRef, shape: tuple[int, ...]) -> dict:
    """`launch_rows`' mask arguments for `mask` broadcast to the scores' `shape`."""
    if mask.rank > len(shape):
        raise ctx.error(f"the mask of shape {mask.shape} has more dimensions than the scores")
    padded = (1,) * (len(shape) - mask.rank) + tuple(mask.shape)
    if any(d not in (1, s) for d, s in zip(padded, shape, strict=True)):
        raise ctx.error(f"the mask of shape {mask.shape} does not broadcast to {shape}")
    strides = [0] * len(shape)
    step = 1
    for axis in range(len(shape) - 1, -1, -1):
        strides[axis] = step if padded[axis] != 1 else 0
        step *= padded[axis]
    rows = list(shape[:-1])
    table = np.array([*rows, *strides[:-1]], np.int64)
    return {
        "mask": mask,
        "mask_table": ctx.constant(table),
        "mask_rank": len(rows),
        "mask_cols": padded[-1] != 1,
    }
