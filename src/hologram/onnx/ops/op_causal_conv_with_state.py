"""CausalConvWithState (opset 27): a depthwise causal 1-D convolution that carries its state.

The input `(batch, channels, length)` is preceded by the past state (`k - 1` samples per
channel, zeros when not given), and channel `c` of the output at `t` is
`bias[c] + sum_j weight[c, 0, j] * padded[t + j]`, optionally through SiLU. The present
state is the last `k - 1` samples of the padded sequence.
"""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._elementwise import widened
from hologram.onnx.registry import onnx_op


@hg.func
def onnx_causal_padded(x, past, b, c, p, channels, length, carry, has_past):
    """Sample `p` of the padded sequence of `(b, c)`: the past state, then the input."""
    value = x.dtype(0)
    if p >= carry:
        value = x[((b * channels) + c) * length + p - carry]
    elif has_past:
        value = past[((b * channels) + c) * carry + p]
    return value


@hg.kernel
def onnx_causal_conv(
    x: hg.Array,
    weight: hg.Array,
    bias: hg.Array,
    past: hg.Array,
    out: hg.Array,
    n: hg.int64,
    channels: hg.int64,
    length: hg.int64,
    taps: hg.int64,
    compute: hg.Const[hg.dtype],
    has_bias: hg.Const[bool],
    has_past: hg.Const[bool],
    silu: hg.Const[bool],
):
    """Lane `o < n` writes output element `o = (b * channels + c) * length + t`; the sum is
    rounded to the output's dtype before the activation, which runs in `compute`."""
    o = hg.int64(hg.global_id())
    if o < n:
        t = o % length
        c = (o // length) % channels
        b = o // (length * channels)
        carry = taps - 1
        acc = compute(0)
        if has_bias:
            acc = compute(bias[c])
        for j in range(taps):
            sample = onnx_causal_padded(x, past, b, c, t + j, channels, length, carry, has_past)
            acc += compute(weight[c * taps + j]) * compute(sample)
        if silu:
            acc = compute(out.dtype(acc))
            acc = acc * hg.sigmoid(acc)
        out[o] = acc


@hg.kernel
def onnx_causal_state(
    x: hg.Array,
    past: hg.Array,
    state: hg.Array,
    n: hg.int64,
    channels: hg.int64,
    length: hg.int64,
    carry: hg.int64,
    has_past: hg.Const[bool],
):
    """Lane `o < n` writes present-state element `o = (b * channels + c) * carry + j`: sample
    `length + j` of the padded sequence."""
    o = hg.int64(hg.global_id())
    if o < n:
        j = o % carry
        c = (o // carry) % channels
        b = o // (carry * channels)
        state[o] = onnx_causal_padded(x, past, b, c, length + j, channels, length, carry, has_past)


@onnx_op("CausalConvWithState", since=27)
def causal_conv_with_state(ctx: OpContext) -> None:
    """Causal depthwise convolution with a carried state (see the module docstring)."""
    x, weight = ctx.input(0), ctx.input(1)
    bias, past = ctx.optional_input(2), ctx.optional_input(3)
    if x.elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
        raise ctx.unsupported(f"takes float tensors, got {types.elem_name(x.elem)}")
    if x.rank != 3 or weight.rank != 3 or weight.shape[:2] != (x.shape[1], 1):
        raise ctx.error(f"input {x.shape} and weight {weight.shape} do not fit")
    batch, channels, length = x.shape
    taps = weight.shape[2]
    carry = taps - 1
    if bias is not None and bias.shape != (channels,):
        raise ctx.error(f"bias must have shape {(channels,)}, got {bias.shape}")
    if past is not None and past.shape != (batch, channels, carry):
        raise ctx.error(f"past_state must have shape {(batch, channels, carry)}")
    activation = ctx.attr("activation", "none")
    if activation not in ("none", "silu", "swish"):
        raise ctx.error(f"unknown activation {activation!r}")
    out = ctx.output(0, x.shape, x.elem)
    dummy = ctx.constant(np.zeros(1, types.numpy_dtype(x.elem)))
    past_arg = past if past is not None else dummy
    if out.size:
        ctx.launch(
            onnx_causal_conv,
            math.ceil(out.size / 256),
            256,
            [x, weight, bias if bias is not None else dummy, past_arg, out, out.size, channels]
            + [length, taps, widened(x.dtype), bias is not None, past is not None]
            + [activation != "none"],
        )
    if ctx.has_output(1):
        state = ctx.output(1, (batch, channels, carry), x.elem)
        if state.size:
            ctx.launch(
                onnx_causal_state,
                math.ceil(state.size / 256),
                256,
                [x, past_arg, state, state.size, channels, length, carry, past is not None],
            )
