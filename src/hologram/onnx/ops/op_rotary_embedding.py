"""RotaryEmbedding (opset 23): rotate pairs of each head's first channels by a position's angle.

A pair `(x1, x2)` becomes `(cos * x1 - sin * x2, sin * x1 + cos * x2)`, with the cosine and
sine of the token's position read from the caches (through `position_ids` when given, else
the caches are per batch and token already). Pairs are the two halves of the rotated
channels, or neighbours with `interleaved`; channels past `rotary_embedding_dim` are copied.
"""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.registry import onnx_op


@hg.kernel
def onnx_rotary_embedding(
    x: hg.Array,
    cos_cache: hg.Array,
    sin_cache: hg.Array,
    position_ids: hg.Array[hg.int64],
    out: hg.Array,
    n: hg.int64,
    heads: hg.int64,
    seq: hg.int64,
    head_size: hg.int64,
    rotary: hg.int64,
    compute: hg.Const[hg.dtype],
    tokens_major: hg.Const[bool],
    interleaved: hg.Const[bool],
    has_positions: hg.Const[bool],
):
    """Lane `o < n` writes output element `o` of a `(batch, heads, seq, head_size)` tensor,
    or of a `(batch, seq, heads, head_size)` one with `tokens_major` (a 3-D input)."""
    o = hg.int64(hg.global_id())
    if o < n:
        d = o % head_size
        rest = o // head_size
        s = rest % seq
        if tokens_major:
            s = (rest // heads) % seq
        b = rest // (heads * seq)
        if d >= rotary:
            out[o] = x[o]
        else:
            half = rotary // 2
            pair = d % half
            second = d >= half
            first_at = o - d + pair
            second_at = first_at + half
            if interleaved:
                pair = d // 2
                second = d % 2 == 1
                first_at = o - d + 2 * pair
                second_at = first_at + 1
            row = b * seq + s
            if has_positions:
                row = position_ids[row]
            c = compute(cos_cache[row * half + pair])
            si = compute(sin_cache[row * half + pair])
            x1 = compute(x[first_at])
            x2 = compute(x[second_at])
            if second:
                out[o] = si * x1 + c * x2
            else:
                out[o] = c * x1 - si * x2


@onnx_op("RotaryEmbedding", since=23)
def rotary_embedding(ctx: OpContext) -> None:
    """Rotary position embedding of a 3-D or 4-D input (see the module docstring)."""
    x, cos_cache, sin_cache = ctx.input(0), ctx.input(1), ctx.input(2)
    positions = ctx.optional_input(3)
    if x.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
        raise ctx.unsupported(f"takes float tensors, got {types.elem_name(x.elem)}")
    if x.rank == 4:
        batch, heads, seq, head_size = x.shape
    elif x.rank == 3:
        heads = ctx.attr("num_heads", 0)
        batch, seq, hidden = x.shape
        if heads <= 0 or hidden % heads:
            raise ctx.error(f"num_heads {heads} must divide the hidden size {hidden}")
        head_size = hidden // heads
    else:
        raise ctx.error(f"input must be 3-D or 4-D, got shape {x.shape}")
    rotary = ctx.attr("rotary_embedding_dim", 0) or head_size
    if rotary % 2 or rotary > head_size:
        raise ctx.error(f"rotary_embedding_dim {rotary} must be even and at most {head_size}")
    half = rotary // 2
    rows = (batch, seq) if positions is None else None
    for cache in (cos_cache, sin_cache):
        if cache.shape[-1] != half or (rows is not None and cache.shape[:-1] != rows):
            raise ctx.error(f"cache of shape {cache.shape} does not fit rotary dim {rotary}")
    if positions is not None and positions.shape != (batch, seq):
        raise ctx.error(f"position_ids must have shape {(batch, seq)}, got {positions.shape}")
    out = ctx.output(0, x.shape, x.elem)
    if out.size == 0:
        return
    ids = positions if positions is not None else ctx.constant(np.zeros(1, np.int64))
    ctx.launch(
        onnx_rotary_embedding,
        math.ceil(out.size / 256),
        256,
        [
            x,
            cos_cache,
            sin_cache,
            ids,
            out,
            out.size,
            heads,
            seq,
            head_size,
            rotary,
            widened(x.dtype),
            x.rank == 3,
            bool(ctx.attr("interleaved", 0)),
            positions is not None,
        ],
    )
