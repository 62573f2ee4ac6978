"""LinearAttention (opset 27): attention through a recurrent `d_k x d_v` state per KV head.

At each step `t`, the state `S` of a KV head is (by `update_rule`) decayed by `exp(decay)`
(`gated`, `gated_delta`), and updated with the key and value: `S += k v^T`, where with delta
correction (`delta`, `gated_delta`) `v` is replaced by `beta * (v - S^T k)`. Each query head
of the group reads `scale * q^T S`. Inputs are `(batch, seq, heads * size)`; the state is
`(batch, kv_heads, d_k, d_v)`, zero unless `past_state` is given, and the final one is the
second output.

Each column of the state evolves on its own (every step reads and writes only column `m`
for value channel `m`), so one lane runs the whole sequence for one column, keeping it in a
float32 scratch tensor.
"""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op

_RULES = ("linear", "gated", "delta", "gated_delta")


@hg.kernel
def onnx_linear_attention(
    q: hg.Array,
    k: hg.Array,
    v: hg.Array,
    past: hg.Array,
    decay: hg.Array,
    beta: hg.Array,
    state: hg.Array[hg.float32],
    out: hg.Array,
    present: hg.Array,
    n: hg.int64,
    seq: hg.int64,
    q_heads: hg.int64,
    kv_heads: hg.int64,
    d_k: hg.int64,
    d_v: hg.int64,
    decay_width: hg.int64,
    beta_width: hg.int64,
    scale: hg.float32,
    has_past: hg.Const[bool],
    gated: hg.Const[bool],
    delta: hg.Const[bool],
):
    """Lane `o < n` runs column `m = o % d_v` of the state of KV head `h` of batch `b`,
    `o // d_v = b * kv_heads + h`, through the sequence. `decay_width` is `d_k` for a decay
    per key channel or 1 for one per head; `beta_width` is 1 for one beta per head."""
    o = hg.int64(hg.global_id())
    if o < n:
        m = o % d_v
        bh = o // d_v
        h = bh % kv_heads
        b = bh // kv_heads
        group = q_heads // kv_heads
        column = bh * d_k * d_v + m
        for d in range(d_k):
            s = hg.float32(0)
            if has_past:
                s = hg.float32(past[column + d * d_v])
            state[column + d * d_v] = s
        for t in range(seq):
            row = b * seq + t
            key = (row * kv_heads + h) * d_k
            if gated:
                at = (row * kv_heads + h) * decay_width
                for d in range(d_k):
                    g = hg.float32(decay[at + d]) if decay_width > 1 else hg.float32(decay[at])
                    state[column + d * d_v] = state[column + d * d_v] * hg.exp(g)
            update = hg.float32(v[(row * kv_heads + h) * d_v + m])
            if delta:
                retrieved = hg.float32(0)
                for d in range(d_k):
                    retrieved += state[column + d * d_v] * hg.float32(k[key + d])
                weight = hg.float32(beta[row * beta_width + (h if beta_width > 1 else 0)])
                update = weight * (update - retrieved)
            for d in range(d_k):
                state[column + d * d_v] = state[column + d * d_v] + hg.float32(k[key + d]) * update
            for j in range(group):
                head = h * group + j
                query = (row * q_heads + head) * d_k
                acc = hg.float32(0)
                for d in range(d_k):
                    acc += hg.float32(q[query + d]) * state[column + d * d_v]
                out[(row * q_heads + head) * d_v + m] = scale * acc
        for d in range(d_k):
            present[column + d * d_v] = state[column + d * d_v]


@onnx_op("LinearAttention", since=27)
def linear_attention(ctx: OpContext) -> None:
    """Linear attention with a recurrent state (see the module docstring)."""
    q, k, v = ctx.input(0), ctx.input(1), ctx.input(2)
    past, decay, beta = (ctx.optional_input(i) for i in (3, 4, 5))
    rule = ctx.attr("update_rule", "gated_delta")
    if rule not in _RULES:
        raise ctx.error(f"unknown update_rule {rule!r}")
    gated, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    if gated != (decay is not None) or delta != (beta is not None):
        raise ctx.error(f"update_rule {rule!r} does not fit the decay and beta inputs given")
    q_heads, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    if kv_heads <= 0 or q_heads <= 0 or q_heads % kv_heads:
        raise ctx.error(f"q_num_heads {q_heads} must be a multiple of kv_num_heads {kv_heads}")
    for ref in (q, k, v):
        if ref.rank != 3:
            raise ctx.error(f"query, key and value must be 3-D, got {ref.shape}")
        if ref.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
            raise ctx.unsupported(f"takes float tensors, got {types.elem_name(ref.elem)}")
    batch, seq, _ = q.shape
    d_k, d_v = q.shape[2] // q_heads, v.shape[2] // kv_heads
    fits = k.shape == (batch, seq, kv_heads * d_k) and v.shape[:2] == (batch, seq)
    if q.shape[2] % q_heads or not fits:
        raise ctx.error(f"query {q.shape}, key {k.shape} and value {v.shape} do not fit")
    decay_width = 1
    if decay is not None:
        decay_width = decay.shape[-1] // kv_heads if decay.rank == 3 else 0
        if decay.shape[:2] != (batch, seq) or decay_width not in (1, d_k):
            raise ctx.error(f"decay of shape {decay.shape} does not fit")
    beta_width = 1
    if beta is not None:
        beta_width = beta.shape[-1] if beta.rank == 3 else 0
        if beta.shape[:2] != (batch, seq) or beta_width not in (1, kv_heads):
            raise ctx.error(f"beta of shape {beta.shape} does not fit")
    state_shape = (batch, kv_heads, d_k, d_v)
    if past is not None and past.shape != state_shape:
        raise ctx.error(f"past_state must have shape {state_shape}, got {past.shape}")
    out = ctx.output(0, (batch, seq, q_heads * d_v), q.elem)
    state_elem = past.elem if past is not None else q.elem
    present = (
        ctx.output(1, state_shape, state_elem)
        if ctx.has_output(1)
        else ctx.scratch(state_shape, state_elem)
    )
    if present.size == 0:
        return
    scale = ctx.attr("scale", 0.0) or 1.0 / math.sqrt(d_k)
    dummy = ctx.constant(np.zeros(1, np.float32))
    lanes = batch * kv_heads * d_v
    ctx.launch(
        onnx_linear_attention,
        math.ceil(lanes / 64),
        64,
        [q, k, v, past or dummy, decay or dummy, beta or dummy]
        + [ctx.scratch(state_shape, types.FLOAT), out, present, lanes, seq, q_heads, kv_heads]
        + [d_k, d_v, decay_width, beta_width, float(scale)]
        + [past is not None, gated, delta],
    )
