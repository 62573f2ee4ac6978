"""FlexAttention (ai.onnx.preview, version 1): attention with graphs that edit the scores.

`Q K^T` is computed from `Q` and `K` each scaled by `sqrt(scale)` in their own dtype (one
product on the MATMUL intrinsic, rounded to that dtype), then converted to the softmax
precision (float32 for 16-bit inputs unless `softmax_precision` says otherwise). The
optional `score_mod` graph maps the scores `(batch, heads, q_len, kv_len)` to new ones,
softmax runs along the last axis, the optional `prob_mod` graph maps the probabilities, and
a second product with V (in the softmax precision) gives the output, in V's dtype. KV heads
are repeated for grouped query heads.
"""

from __future__ import annotations

import math

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.kernels.linalg.matmul import matmul
from hologram.kernels.normalization.softmax import softmax
from hologram.onnx.ops._attention_kernels import (
    contiguous_strides,
    launch_blocks,
    repeat_heads,
    strided_copy,
)
from hologram.onnx.registry import onnx_op

_FLOATS = (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16)


def _apply_graph(ctx: OpContext, name: str, ref: TensorRef, compute: int) -> TensorRef:
    """`ref` through the graph attribute `name` (when given), converted to `compute`."""
    graph = ctx.attr(name, None)
    if graph is None:
        return ref
    outputs = ctx.run_graph(graph, [ref])
    if len(outputs) != 1:
        raise ctx.error(f"{name} must produce one output, got {len(outputs)}")
    result = outputs[0]
    if not isinstance(result, TensorRef) or result.shape != ref.shape:
        raise ctx.error(f"{name} must produce a tensor of shape {ref.shape}")
    if result.elem == compute:
        return result
    converted = ctx.scratch(ref.shape, compute)
    strided_copy(ctx, result, converted, ref.shape, contiguous_strides(ref.shape),
                 contiguous_strides(ref.shape))  # fmt: skip
    return converted


@onnx_op("FlexAttention", since=1, domain="ai.onnx.preview")
def flex_attention(ctx: OpContext) -> None:
    """Attention with score and probability modifier graphs (see the module docstring)."""
    q, k, v = ctx.input(0), ctx.input(1), ctx.input(2)
    for ref in (q, k, v):
        if ref.rank != 4:
            raise ctx.error(f"Q, K and V must be 4-D, got {q.shape}, {k.shape}, {v.shape}")
        if ref.elem not in _FLOATS:
            raise ctx.unsupported(f"takes float tensors, got {types.elem_name(ref.elem)}")
    batch, q_heads, q_len, head = q.shape
    _, kv_heads, kv_len, _ = k.shape
    v_head = v.shape[3]
    if k.shape != (batch, kv_heads, kv_len, head) or v.shape[:3] != k.shape[:3]:
        raise ctx.error(f"Q {q.shape}, K {k.shape} and V {v.shape} do not fit together")
    if kv_heads == 0 or q_heads % kv_heads:
        raise ctx.error(f"{q_heads} query heads are not a multiple of {kv_heads} KV heads")
    out = ctx.output(0, (batch, q_heads, q_len, v_head), v.elem)
    if out.size == 0:
        return
    if kv_len == 0 or head == 0:
        raise ctx.unsupported("attention over empty keys or empty heads")
    precision = ctx.attr("softmax_precision", 0)
    if precision and precision not in _FLOATS:
        raise ctx.error(f"softmax_precision must be a float type, got {precision}")
    compute = precision or (types.DOUBLE if q.elem == types.DOUBLE else types.FLOAT)
    scale = ctx.attr("scale", 0.0) or 1.0 / math.sqrt(head)
    # sqrt(scale) is taken in float32, then rounded to Q's dtype (as the operator defines).
    root = float(types.numpy_dtype(q.elem).type(np.sqrt(np.float32(scale))))
    rows = batch * q_heads
    rep = q_heads // kv_heads

    q_s = ctx.scratch((rows, q_len, head), q.elem)
    dims = q.shape
    strided_copy(ctx, q, q_s, dims, contiguous_strides(dims), contiguous_strides(dims), 0,
                 root)  # fmt: skip
    k_s = repeat_heads(ctx, k, q.elem, rep, root)
    scores_t = ctx.scratch((batch, q_heads, q_len, kv_len), q.elem)
    ctx.launch(matmul, 1, 1, [q_s, k_s, scores_t, q_len, kv_len, head, rows, False, True])
    scores = scores_t
    if compute != q.elem:
        scores = ctx.scratch(scores_t.shape, compute)
        shape = scores_t.shape
        strided_copy(ctx, scores_t, scores, shape, contiguous_strides(shape),
                     contiguous_strides(shape))  # fmt: skip
    scores = _apply_graph(ctx, "score_mod", scores, compute)

    probs = ctx.scratch(scores.shape, compute)
    count = rows * q_len
    grid, block = launch_blocks(count, 64)
    dtype = types.storage_dtype(compute)
    ctx.launch(softmax, grid, block, [scores, probs, count, kv_len, 1, dtype, True])
    probs = _apply_graph(ctx, "prob_mod", probs, compute)

    v_c = repeat_heads(ctx, v, compute, rep, None)
    out_c = ctx.scratch((rows, q_len, v_head), compute)
    ctx.launch(matmul, 1, 1, [probs, v_c, out_c, q_len, v_head, kv_len, rows, False, False])
    shape = out.shape
    strided_copy(ctx, out_c, out, shape, contiguous_strides(shape), contiguous_strides(shape))
