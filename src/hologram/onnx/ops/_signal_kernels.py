"""Kernels of the signal ops: discrete Fourier transforms (DFT, STFT) and cosine windows.

`onnx_dft` evaluates the transform directly, one output element a lane: a sum over the
signal of samples times twiddle factors, in float64, with each angle reduced exactly
(`(k * n) mod length`) before the cosine so long transforms keep their accuracy. Its index
model covers both users: output element `(a, k, b, c)` transforms the samples at
`(a // frames) * outer_stride + (a % frames) * frame_stride + b * inner_stride + n * step`
(DFT: one frame per outer index; STFT: `a` runs over batch and frame).
"""

from __future__ import annotations

import math

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext

FORWARD = 0
INVERSE = 1
INVERSE_REAL = 2
"""The inverse of a one-sided transform: Hermitian spectrum in, real signal out."""

TWO_PI = 2 * math.pi


@hg.kernel
def onnx_dft(
    x: hg.Array,
    window: hg.Array,
    out: hg.Array,
    n: hg.int64,
    bins: hg.int64,
    inner: hg.int64,
    frames: hg.int64,
    outer_stride: hg.int64,
    frame_stride: hg.int64,
    inner_stride: hg.int64,
    step: hg.int64,
    count: hg.int64,
    length: hg.int64,
    mode: hg.Const[int],
    complex_in: hg.Const[bool],
    has_window: hg.Const[bool],
):
    """Lane `o < n` writes output element `o = ((a * bins + k) * inner + b) * parts + c`,
    where `parts` is 2 (real, imaginary) or 1 for `INVERSE_REAL`: frequency (or time) `k` of
    a transform of `length` over the first `count` samples (zero past them), each weighted
    by `window[n]` with `has_window`. Inverse transforms are divided by `length`."""
    o = hg.int64(hg.global_id())
    if o < n:
        parts = 1 if mode == INVERSE_REAL else 2
        c = o % parts
        rest = o // parts
        b = rest % inner
        rest = rest // inner
        k = rest % bins
        a = rest // bins
        base = (a // frames) * outer_stride + (a % frames) * frame_stride + b * inner_stride
        sign = -1.0 if mode == FORWARD else 1.0
        acc = hg.float64(0)
        for t in range(count):
            at = base + t * step
            re = hg.float64(x[at])
            im = hg.float64(0)
            if complex_in:
                im = hg.float64(x[at + 1])
            if has_window:
                w = hg.float64(window[t])
                re = re * w
                im = im * w
            angle = TWO_PI * hg.float64((k * t) % length) / hg.float64(length)
            cs = hg.cos(angle)
            sn = hg.sin(angle) * sign
            if mode == INVERSE_REAL:
                # Bins 1 .. length/2 - 1 stand for themselves and their mirror images;
                # the imaginary parts of bin 0 and of the Nyquist bin do not count.
                weight = 2.0
                if t == 0 or 2 * t == length:
                    weight = 1.0
                    im = hg.float64(0)
                acc += weight * (re * cs - im * sn)
            elif c == 0:
                acc += re * cs - im * sn
            else:
                acc += re * sn + im * cs
        if mode != FORWARD:
            acc = acc / hg.float64(length)
        out[o] = acc


@hg.kernel
def onnx_cosine_window(
    out: hg.Array, n: hg.int64, period: hg.float64, a0: hg.float64, a1: hg.float64, a2: hg.float64
):
    """Lane `i < n` writes `a0 - a1 * cos(2 pi i / period) + a2 * cos(4 pi i / period)`."""
    i = hg.int64(hg.global_id())
    if i < n:
        angle = TWO_PI * hg.float64(i) / period
        out[i] = a0 - a1 * hg.cos(angle) + a2 * hg.cos(2.0 * angle)


def cosine_window(ctx: OpContext, a0: float, a1: float, a2: float) -> None:
    """Lower a window op (HannWindow, HammingWindow, BlackmanWindow) of the cosine terms
    `a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N)`, where `N` is the size (periodic) or the
    size minus one (symmetric)."""
    values = ctx.ints(0)
    if len(values) != 1 or values[0] < 0:
        raise ctx.error(f"size must be one non-negative integer, got {values}")
    size = values[0]
    elem = ctx.attr("output_datatype", types.FLOAT)
    types.storage_dtype(elem, ctx.where())
    out = ctx.output(0, (size,), elem)
    if size == 0:
        return
    period = size if ctx.attr("periodic", 1) else size - 1
    ctx.launch(
        onnx_cosine_window,
        math.ceil(size / 256),
        256,
        [out, size, float(period), a0, a1, a2],
    )
