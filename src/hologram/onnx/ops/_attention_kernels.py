"""Kernels of the attention ops: strided copies between head layouts, and the masked softmax.

Attention is two matrix products (on the MATMUL intrinsic, `kernels/linalg/matmul.py`) around
a softmax over each query row. What surrounds them is data movement: `strided_copy` reads any
strided view of a tensor (a transposed 3-D input, a KV head repeated for grouped queries,
the second half of a concatenation) and writes it to another, scaling on the way;
`masked_softmax` builds each row's additive bias from the mask, the causal frontier, the
sliding window and the padding lengths, and turns the scores into probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import hologram as hg
from hologram.compiler.context import OpContext, TensorRef

MAX_RANK = 6
"""The most dimensions a `strided_copy` walks."""

MASK_NONE = 0
MASK_BOOL = 1
MASK_FLOAT = 2

NEG_INF = -math.inf


@hg.kernel
def onnx_attention_strided_copy(
    src: hg.Array,
    dst: hg.Array,
    n: hg.int64,
    table: hg.Array[hg.int64],
    src_base: hg.int64,
    dst_base: hg.int64,
    scale: hg.float64,
    rank: hg.Const[int],
    scaled: hg.Const[bool],
):
    """Lane `i < n` copies one element of a `rank`-dimensional walk.

    `table` holds the walk's dims, then the source strides, then the destination strides
    (`rank` each). With `scaled` the element is multiplied by `scale` and rounded to the
    source's dtype before the store converts it, as a product in the source type would be.
    """
    i = hg.int64(hg.global_id())
    if i < n:
        rest = i
        s = src_base
        d = dst_base
        for a in range(rank - 1, -1, -1):
            size = max(table[a], 1)
            at = rest % size
            rest = rest // size
            s += at * table[rank + a]
            d += at * table[2 * rank + a]
        if scaled:
            dst[d] = src.dtype(src[s] * scale)
        else:
            dst[d] = src[s]


def copy_table(
    dims: Sequence[int], src_strides: Sequence[int], dst_strides: Sequence[int]
) -> np.ndarray:
    """The `table` of `onnx_attention_strided_copy` for a walk over `dims`."""
    return np.array([*dims, *src_strides, *dst_strides], np.int64)


def contiguous_strides(dims: Sequence[int]) -> list[int]:
    """Row-major element strides of a tensor of shape `dims`."""
    strides = [1] * len(dims)
    for axis in range(len(dims) - 2, -1, -1):
        strides[axis] = strides[axis + 1] * dims[axis + 1]
    return strides


@hg.func
def onnx_attention_bias(
    mask, mask_kind, mask_table, b, h, i, j, offset, causal, left, right, nonpad_len, compute
):
    """The additive bias of score `(b, h, i, j)`: 0, the float mask's value, or -inf."""
    neg_inf = compute(NEG_INF)
    bias = compute(0)
    if j >= nonpad_len:
        bias = neg_inf
    diff = hg.int64(i) + offset - j
    if causal and diff < 0:
        bias = neg_inf
    if left >= 0 and diff > left:
        bias = neg_inf
    if right >= 0 and -diff > right:
        bias = neg_inf
    if mask_kind != MASK_NONE:
        if j >= mask_table[4]:
            bias = neg_inf
        else:
            at = b * mask_table[0] + h * mask_table[1] + i * mask_table[2] + j * mask_table[3]
            if mask_kind == MASK_BOOL:
                if not mask[at]:
                    bias = neg_inf
            elif bias == 0:
                bias = compute(mask[at])
    return bias


@hg.func
def onnx_attention_round(x, rounding, compute):
    """`x` rounded to the dtype `rounding`, back in `compute` (what one operation in that
    dtype would give)."""
    return compute(rounding(x))


@hg.kernel
def onnx_attention_masked_softmax(
    scores: hg.Array,
    qk_out: hg.Array,
    mask: hg.Array,
    nonpad: hg.Array[hg.int64],
    mask_table: hg.Array[hg.int64],
    rows: hg.int64,
    heads: hg.int64,
    q_len: hg.int64,
    total: hg.int64,
    past_len: hg.int64,
    left: hg.int64,
    right: hg.int64,
    softcap: hg.float64,
    T: hg.Const[hg.dtype],
    S: hg.Const[hg.dtype],
    round_sum: hg.Const[bool],
    mask_kind: hg.Const[int],
    has_nonpad: hg.Const[bool],
    causal: hg.Const[bool],
    capped: hg.Const[bool],
    qk_mode: hg.Const[int],
):
    """Lane `r < rows` turns the `total` scores of row `r = (b * heads + h) * q_len + i` into
    probabilities, in place, in the dtype of `scores`.

    The scores are soft-capped (`capped`), the bias added, and the softmax taken; a row whose
    bias is -inf everywhere (no key may be attended) gets zero probabilities. `qk_mode` 0 to
    3 writes the raw scores, the capped ones, the biased ones or the probabilities to
    `qk_out`; -1 writes nothing.

    Each step is rounded as the operator's own types would round it: to `T` (the inputs'
    dtype) up to the biased scores, to `S` (the softmax precision) inside the softmax, and
    the probabilities to `T` again before they multiply V. The sum of the exponentials is
    rounded once at the end, or after every addition with `round_sum` (for bfloat16, whose
    additions are each rounded).

    `mask_table` holds the mask's strides along batch, head, query and key, then the number
    of keys it covers (keys past it are masked). With `has_nonpad`, keys from `nonpad[b]` on
    are padding, and the causal frontier and window are offset by `nonpad[b] - q_len`
    instead of `past_len`.
    """
    r = hg.int64(hg.global_id())
    if r < rows:
        i = r % q_len
        bh = r // q_len
        h = bh % heads
        b = bh // heads
        first = r * total
        compute = scores.dtype
        neg_inf = compute(NEG_INF)
        offset = past_len
        nonpad_len = total
        if has_nonpad:
            nonpad_len = nonpad[b]
            offset = nonpad_len - q_len
        top = neg_inf
        bias_top = neg_inf
        cap = onnx_attention_round(softcap, T, compute)
        for j in range(total):
            v = onnx_attention_round(scores[first + j], T, compute)
            if qk_mode == 0:
                qk_out[first + j] = v
            if capped:
                v = onnx_attention_round(v / cap, T, compute)
                v = onnx_attention_round(hg.tanh(v), T, compute)
                v = onnx_attention_round(v * cap, T, compute)
            if qk_mode == 1:
                qk_out[first + j] = v
            bias = onnx_attention_bias(
                mask, mask_kind, mask_table, b, h, i, j, offset, causal, left, right,
                nonpad_len, compute,
            )  # fmt: skip
            v = onnx_attention_round(v + bias, T, compute)
            if qk_mode == 2:
                qk_out[first + j] = v
            v = onnx_attention_round(v, S, compute)
            scores[first + j] = v
            top = max(top, v)
            bias_top = max(bias_top, bias)
        if top == neg_inf:
            top = compute(0)
        total_exp = compute(0)
        for j in range(total):
            e = onnx_attention_round(scores[first + j] - top, S, compute)
            e = onnx_attention_round(hg.exp(e), S, compute)
            scores[first + j] = e
            total_exp += e
            if round_sum:
                total_exp = onnx_attention_round(total_exp, S, compute)
        total_exp = onnx_attention_round(total_exp, S, compute)
        if total_exp == 0:
            total_exp = compute(1)
        for j in range(total):
            p = onnx_attention_round(scores[first + j] / total_exp, S, compute)
            if bias_top == neg_inf:
                p = compute(0)
            p = onnx_attention_round(p, T, compute)
            scores[first + j] = p
            if qk_mode == 3:
                qk_out[first + j] = p


def launch_blocks(n: int, block: int = 256) -> tuple[int, int]:
    """(grid, block) covering `n` lanes."""
    return max(1, math.ceil(n / block)), block


def strided_copy(
    ctx: OpContext,
    src: TensorRef,
    dst: TensorRef,
    dims: Sequence[int],
    src_strides: Sequence[int],
    dst_strides: Sequence[int],
    dst_base: int = 0,
    scale: float | None = None,
) -> None:
    """Copy the walk over `dims` of `src` into `dst` (see `onnx_attention_strided_copy`)."""
    count = math.prod(dims)
    if count == 0:
        return
    table = ctx.constant(copy_table(dims, src_strides, dst_strides))
    grid, block = launch_blocks(count)
    args = [src, dst, count, table, 0, dst_base, 1.0 if scale is None else scale]
    ctx.launch(onnx_attention_strided_copy, grid, block, [*args, len(dims), scale is not None])


def repeat_heads(
    ctx: OpContext, heads: TensorRef, elem: int, rep: int, scale: float | None
) -> TensorRef:
    """`heads` `(batch, kv_heads, seq, size)` as a new `(batch * kv_heads * rep, seq, size)`
    tensor of element type `elem`, each head repeated `rep` times in a row (head `h` serves
    query heads `h * rep` to `h * rep + rep - 1`), optionally scaled."""
    batch, count, seq, size = heads.shape
    out = ctx.scratch((batch * count * rep, seq, size), elem)
    dims = (batch, count, rep, seq, size)
    src = [count * seq * size, seq * size, 0, size, 1]
    strided_copy(ctx, heads, out, dims, src, contiguous_strides(dims), 0, scale)
    return out
