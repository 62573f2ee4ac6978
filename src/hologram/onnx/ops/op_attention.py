"""Attention (opsets 23 to 25): `softmax(Q K^T * scale + bias) V` over heads, with a KV cache.

The lowering works in one compute dtype (float32, or float64 for double inputs and a double
`softmax_precision`) on contiguous `(batch * q_heads, seq, head)` copies:

1. Q and the present keys (past keys, then K) are copied into that layout, each multiplied by
   `sqrt(scale)` in the input's dtype, KV heads repeated for grouped queries;
2. the scores are one batched product on the MATMUL intrinsic;
3. `masked_softmax` soft-caps, adds the bias (mask, causal frontier, window, padding) and
   normalises each row in place, rounding the probabilities to the input's dtype;
4. a second product with the present values gives the output, copied back to the layout of
   Q (3-D inputs are `(batch, seq, heads * head)`).
"""

from __future__ import annotations

import math

import numpy as np

from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.dtypes import DType
from hologram.kernels.linalg.matmul import matmul
from hologram.onnx.ops._attention_kernels import (
    MASK_BOOL,
    MASK_FLOAT,
    MASK_NONE,
    contiguous_strides,
    launch_blocks,
    onnx_attention_masked_softmax,
    repeat_heads,
    strided_copy,
)
from hologram.onnx.registry import onnx_op

_FLOATS = (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16)


def _heads_view(ref: TensorRef, heads: int, what: str, ctx: OpContext) -> tuple[int, ...]:
    """(batch, heads, seq, head_size) of a 3-D or 4-D input, and its strides in that order."""
    if ref.rank == 4:
        return ref.shape
    if ref.rank != 3:
        raise ctx.error(f"{what} must be 3-D or 4-D, got shape {ref.shape}")
    batch, seq, hidden = ref.shape
    if heads <= 0 or hidden % heads:
        raise ctx.error(f"{what}'s hidden size {hidden} is not a multiple of {heads} heads")
    return batch, heads, seq, hidden // heads


def _view_strides(ref: TensorRef, dims: tuple[int, ...]) -> list[int]:
    """Strides walking `ref` as `(batch, heads, seq, head_size)` = `dims`."""
    if ref.rank == 4:
        return contiguous_strides(dims)
    _, heads, seq, size = dims
    return [seq * heads * size, size, heads * size, 1]


def _mask_table(ctx: OpContext, mask: TensorRef, shape: tuple[int, int, int, int]) -> TensorRef:
    """Strides of `mask` along (batch, head, query, key), right-aligned with 0 where it
    broadcasts, then the number of keys it covers."""
    if not 1 <= mask.rank <= 4:
        raise ctx.error(f"attn_mask must have 1 to 4 dimensions, got shape {mask.shape}")
    strides = contiguous_strides(mask.shape)
    table = [0, 0, 0, 1, mask.shape[-1]]
    for axis in range(mask.rank - 1):
        target = 4 - mask.rank + axis
        size = mask.shape[axis]
        if size not in (1, shape[target]):
            raise ctx.error(f"attn_mask of shape {mask.shape} does not broadcast to {shape}")
        table[target] = strides[axis] if size != 1 else 0
    return ctx.constant(np.array(table, np.int64))


@onnx_op("Attention", since=23)
def attention(ctx: OpContext) -> None:
    """Scaled dot-product attention (see the module docstring)."""
    q, k, v = ctx.input(0), ctx.input(1), ctx.input(2)
    for ref, what in ((q, "Q"), (k, "K"), (v, "V")):
        if ref.elem not in _FLOATS:
            raise ctx.unsupported(f"{what} must be a float tensor, got {types.elem_name(ref.elem)}")
    if not q.rank == k.rank == v.rank:
        raise ctx.error(f"Q, K and V must have the same rank, got {q.shape}, {k.shape}, {v.shape}")
    q_heads_attr = ctx.attr("q_num_heads", 0)
    kv_heads_attr = ctx.attr("kv_num_heads", 0)
    q_dims = _heads_view(q, q_heads_attr, "Q", ctx)
    k_dims = _heads_view(k, kv_heads_attr, "K", ctx)
    v_dims = _heads_view(v, kv_heads_attr, "V", ctx)
    batch, q_heads, q_len, head = q_dims
    _, kv_heads, kv_len, key_head = k_dims
    v_head = v_dims[3]
    if key_head != head or k_dims[:3] != v_dims[:3] or k_dims[0] != batch:
        raise ctx.error(f"Q {q.shape}, K {k.shape} and V {v.shape} do not fit together")
    if kv_heads == 0 or q_heads % kv_heads:
        raise ctx.error(f"{q_heads} query heads are not a multiple of {kv_heads} KV heads")
    past_k, past_v = ctx.optional_input(4), ctx.optional_input(5)
    if (past_k is None) != (past_v is None):
        raise ctx.error("past_key and past_value must be given together")
    nonpad = ctx.optional_input(6)
    if nonpad is not None and past_k is not None:
        raise ctx.error("nonpad_kv_seqlen cannot be combined with past_key and past_value")
    past_len = 0
    if past_k is not None and past_v is not None:
        past_len = past_k.shape[2]
        if past_k.shape != (batch, kv_heads, past_len, head) or past_v.shape != (
            batch,
            kv_heads,
            past_len,
            v_head,
        ):
            raise ctx.error(f"past_key {past_k.shape} / past_value {past_v.shape} do not fit K, V")
    total = past_len + kv_len

    present_k = _present(ctx, 1, past_k, k, k_dims, total)
    present_v = _present(ctx, 2, past_v, v, v_dims, total)
    y_shape = (batch, q_heads, q_len, v_head) if q.rank == 4 else (batch, q_len, q_heads * v_head)
    y = ctx.output(0, y_shape, q.elem)
    qk_out = ctx.output(3, (batch, q_heads, q_len, total), q.elem) if ctx.has_output(3) else None
    if y.size == 0 and (qk_out is None or qk_out.size == 0):
        return
    if total == 0 or head == 0:
        raise ctx.unsupported("attention over empty keys or empty heads")

    precision = ctx.attr("softmax_precision", 0) or q.elem
    if precision not in _FLOATS:
        raise ctx.error(f"softmax_precision must be a float type, got {precision}")
    softmax_dtype = types.storage_dtype(precision)
    compute = types.DOUBLE if types.DOUBLE in (q.elem, precision) else types.FLOAT
    scale = ctx.attr("scale", 0.0) or 1.0 / math.sqrt(head)
    # Q and K are each scaled by sqrt(scale), rounded to their dtype (as the spec's graph).
    root = float(types.numpy_dtype(q.elem).type(math.sqrt(scale)))
    rep = q_heads // kv_heads
    rows = batch * q_heads

    q_c = ctx.scratch((rows, q_len, head), compute)
    strided_copy(ctx, q, q_c, q_dims, _view_strides(q, q_dims), contiguous_strides(q_dims), 0, root)
    k_c = repeat_heads(ctx, present_k, compute, rep, root)
    scores = ctx.scratch((rows, q_len, total), compute)
    ctx.launch(matmul, 1, 1, [q_c, k_c, scores, q_len, total, head, rows, False, True])

    mask = ctx.optional_input(3)
    if mask is None:
        mask_kind, mask_arg = MASK_NONE, ctx.constant(np.zeros(1, np.float32))
        table = ctx.constant(np.zeros(5, np.int64))
    else:
        mask_kind = MASK_BOOL if mask.elem == types.BOOL else MASK_FLOAT
        mask_arg, table = mask, _mask_table(ctx, mask, (batch, q_heads, q_len, total))
    nonpad_arg = nonpad if nonpad is not None else ctx.constant(np.zeros(1, np.int64))
    softcap = float(ctx.attr("softcap", 0.0))
    mode = ctx.attr("qk_matmul_output_mode", 0) if qk_out is not None else -1
    if not -1 <= mode <= 3:
        raise ctx.error(f"qk_matmul_output_mode must be 0 to 3, got {mode}")
    grid, block = launch_blocks(rows * q_len, 64)
    ctx.launch(
        onnx_attention_masked_softmax,
        grid,
        block,
        [
            scores,
            scores if qk_out is None else qk_out,
            mask_arg,
            nonpad_arg,
            table,
            rows * q_len,
            q_heads,
            q_len,
            total,
            past_len,
            ctx.attr("left_window_size", -1),
            ctx.attr("right_window_size", -1),
            softcap,
            q.dtype,
            softmax_dtype,
            softmax_dtype == DType.BF16,
            mask_kind,
            nonpad is not None,
            bool(ctx.attr("is_causal", 0)),
            softcap > 0,
            mode,
        ],
    )
    if y.size == 0:
        return
    v_c = repeat_heads(ctx, present_v, compute, rep, None)
    out_c = ctx.scratch((rows, q_len, v_head), compute)
    ctx.launch(matmul, 1, 1, [scores, v_c, out_c, q_len, v_head, total, rows, False, False])
    out_dims = (batch, q_heads, q_len, v_head)
    y_strides = (
        contiguous_strides(out_dims)
        if q.rank == 4
        else [q_len * q_heads * v_head, v_head, q_heads * v_head, 1]
    )
    strided_copy(ctx, out_c, y, out_dims, contiguous_strides(out_dims), y_strides)


def _present(
    ctx: OpContext,
    index: int,
    past: TensorRef | None,
    current: TensorRef,
    dims: tuple[int, ...],
    total: int,
) -> TensorRef:
    """The present cache `(batch, kv_heads, total, head)`: `past` then `current` along the
    sequence; output `index` when the node wants it, else a scratch tensor."""
    batch, heads, seq, size = dims
    shape = (batch, heads, total, size)
    if ctx.has_output(index):
        present = ctx.output(index, shape, current.elem)
    else:
        present = ctx.scratch(shape, current.elem)
    dst = contiguous_strides(shape)
    if past is not None:
        past_dims = past.shape
        strided_copy(ctx, past, present, past_dims, contiguous_strides(past_dims), dst)
    past_len = total - seq
    strided_copy(ctx, current, present, dims, _view_strides(current, dims), dst, past_len * size)
    return present
