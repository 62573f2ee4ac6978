"""MelWeightMatrix (opset 17): triangular filters mapping a spectrum onto the mel scale.

`num_mel_bins + 2` points evenly spaced in mel (`2595 log10(1 + f / 700)`) between the
lower and upper edge frequencies are mapped back to hertz and then to spectrogram bins
(`floor((dft_length + 1) * f / sample_rate)`). Filter `i` rises linearly from point `i` to
point `i + 1` and falls to point `i + 2`. The output is
`(dft_length // 2 + 1, num_mel_bins)`; the mel edges are rounded as the operator computes
them in the edge frequencies' own type.
"""

from __future__ import annotations

import math

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.registry import onnx_op

LN10 = math.log(10.0)


@hg.func
def onnx_mel_of(hertz, edge_type):
    """The mel value of `hertz`, rounded after each step to `edge_type` but the last."""
    ratio = edge_type(hg.float64(hertz) / 700.0)
    log = edge_type(hg.log(1.0 + hg.float64(ratio)))
    return hg.float64(edge_type(2595.0 * hg.float64(log))) / LN10


@hg.func
def onnx_mel_bin(q, low_mel, step, dft_length, sample_rate):
    """The spectrogram bin of mel point `q`."""
    mel = hg.float64(q) * step + low_mel
    hertz = 700.0 * (hg.exp(mel / 2595.0 * LN10) - 1.0)
    return hg.int64(hg.floor(hg.float64(dft_length + 1) * hertz / hg.float64(sample_rate)))


@hg.kernel
def onnx_mel_weight_matrix(
    sample_rate: hg.Array,
    lower: hg.Array,
    upper: hg.Array,
    out: hg.Array,
    n: hg.int64,
    mel_bins: hg.int64,
    dft_length: hg.int64,
):
    """Lane `o < n` writes the weight of spectrogram bin `o // mel_bins` in filter
    `o % mel_bins`."""
    o = hg.int64(hg.global_id())
    if o < n:
        i = o % mel_bins
        j = o // mel_bins
        low_mel = onnx_mel_of(lower[0], lower.dtype)
        high_mel = onnx_mel_of(upper[0], upper.dtype)
        step = (high_mel - low_mel) / hg.float64(mel_bins + 2)
        rate = sample_rate[0]
        left = onnx_mel_bin(i, low_mel, step, dft_length, rate)
        center = onnx_mel_bin(i + 1, low_mel, step, dft_length, rate)
        right = onnx_mel_bin(i + 2, low_mel, step, dft_length, rate)
        value = hg.float64(0)
        if right > center and center <= j < right:
            value = hg.float64(right - j) / hg.float64(right - center)
        elif center == left and j == center:
            value = hg.float64(1)
        elif center != left and left <= j <= center:
            value = hg.float64(j - left) / hg.float64(center - left)
        out[o] = value


@onnx_op("MelWeightMatrix", since=17)
def mel_weight_matrix(ctx: OpContext) -> None:
    """The mel filter bank of the sizes and frequencies inputs 0 to 4 give."""
    mel_bins = ctx.ints(0)[0]
    dft_length = ctx.ints(1)[0]
    if mel_bins <= 0 or dft_length <= 0:
        raise ctx.error(f"num_mel_bins {mel_bins} and dft_length {dft_length} must be positive")
    for i in (3, 4):
        if ctx.input(i).elem not in (types.FLOAT, types.DOUBLE, types.FLOAT16, types.BFLOAT16):
            raise ctx.unsupported("the edge frequencies must be float tensors")
    elem = ctx.attr("output_datatype", types.FLOAT)
    types.storage_dtype(elem, ctx.where())
    out = ctx.output(0, (dft_length // 2 + 1, mel_bins), elem)
    ctx.launch(
        onnx_mel_weight_matrix,
        math.ceil(out.size / 256),
        256,
        [ctx.input(2), ctx.input(3), ctx.input(4), out, out.size, mel_bins, dft_length],
    )
