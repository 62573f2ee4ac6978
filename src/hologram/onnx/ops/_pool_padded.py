"""MaxPool and AveragePool over 1-D and 2-D windows from a padded input, one lane per output.

The padding that the windows read is made real once (`pad_input`, with -inf for the max and
0 for the sum; skipped where no window leaves the input), so every tap of every window is
inside the array and the kernel needs no bounds tests. Lanes lie along output rows, y over a
plane's rows and z over planes (`launch_rows`); each lane takes its window's taps
in order, so the result is the one `onnx_pool_rows` gives. At stride 1 a window width up to
`WIDE` is a compile-time constant (one kernel each), so a window row's taps unroll.
AveragePool divides by the same counts as `onnx_pool_rows` (`window_counts`), so padding
takes part only as `count_include_pad` says.
"""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._conv_padded import launch_rows, pad_input, window_axes
from hologram.onnx.ops._nn_geometry import Window

WIDE = 4
"""Window widths up to this are compile-time constants at stride 1 (one kernel each)."""


@hg.func
def onnx_pool_tap(total, v, mode):
    """The running max (`mode` 0) or sum (1) `total` after element `v`."""
    if mode == 0:
        return max(total, v)
    return total + v


@hg.kernel
def onnx_pool_padded(
    x: hg.Array,
    out: hg.Array,
    counts: hg.Array,
    height: hg.int64,
    width: hg.int64,
    out_h: hg.int64,
    out_w: hg.int64,
    k_h: hg.int64,
    stride_h: hg.int64,
    dilation_h: hg.int64,
    dilation_w: hg.int64,
    taps_w: hg.int64,
    step_w: hg.int64,
    mode: hg.Const[int],
    k_w: hg.Const[int],
    s_w: hg.Const[int],
    planes: hg.int64,
    first: hg.int64,
):
    """Lane (ow, oh, j) of plane nc = first + j (j < planes) writes element (oh, ow) of it: the
    max (`mode` 0) or the average (1, the sum over `counts[oh * out_w + ow]`) of its window in
    the padded input `x` (height x width planes, every window inside). The window is k_h x
    k_w taps at horizontal stride `s_w`, or when `k_w` is 0, k_h x `taps_w` taps at stride
    `step_w`."""
    ow = hg.int64(hg.global_id(0))
    oh = hg.int64(hg.global_id(1))
    j = hg.int64(hg.global_id(2))
    # The lane's x alone first: a block whose lanes all pass it runs unmasked.
    if ow < out_w:  # noqa: SIM102
        if oh < out_h and j < planes:
            nc = j + first
            top = (nc * height + oh * stride_h) * width
            v = out.dtype(-math.inf if mode == 0 else 0)
            for kh in range(k_h):
                row = top + kh * dilation_h * width
                if k_w > 0:
                    for kw in range(k_w):
                        v = onnx_pool_tap(v, x[row + kw * dilation_w + ow * s_w], mode)
                else:
                    for kw in range(taps_w):
                        v = onnx_pool_tap(v, x[row + kw * dilation_w + ow * step_w], mode)
            at = oh * out_w + ow
            if mode == 1:
                v = v / counts[at]
            out[nc * out_h * out_w + at] = v


def padded_pool_applies(x: TensorRef, win: Window, mode: int) -> bool:
    """True when `launch_padded_pool` serves the pooling: the max or average of float32 or
    float64 over a 1-D or 2-D window."""
    return mode in (0, 1) and x.elem in (types.FLOAT, types.DOUBLE) and win.rank <= 2


def launch_padded_pool(
    ctx: OpContext, x: TensorRef, out: TensorRef, win: Window, mode: int, counts: np.ndarray
) -> None:
    """Fill `out` (N, C, *win.out) with the max (`mode` 0) or the average (1, by `counts`,
    see `window_counts`) of each window of `x`."""
    planes = x.shape[0] * x.shape[1]
    fill = -math.inf if mode == 0 else 0.0
    padded = pad_input(ctx, x, x.shape[0], x.shape[1], win, fill, grouped=False)
    (_, k_h, s_h, d_h, _, o_h), (_, k_w, s_w, d_w, _, o_w) = window_axes(win)
    fixed = k_w <= WIDE and s_w == 1
    divisors = ctx.constant(counts.astype(types.storage_dtype(x.elem).numpy), x.elem)
    args = [padded.x, out, divisors, padded.height, padded.width, o_h, o_w, k_h, s_h, d_h]
    args += [d_w, k_w, s_w, mode, k_w if fixed else 0, s_w if fixed else 0]
    launch_rows(ctx, onnx_pool_padded, (planes, o_h, o_w), args)
