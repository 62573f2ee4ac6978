"""MaxPool and AveragePool over 1-D and 2-D windows from a padded input, one lane per output.

The padding that the windows read is made real once (`pad_input`, with -inf for the max and
0 for the sum; skipped where no window leaves the input), so every tap of every window is
inside the array and the kernel needs no bounds tests. Lanes lie along output rows, y over a
plane's rows and z over planes (`launch_rows`). Windows of up to `WIDE` x `WIDE` taps at
horizontal strides up to `WIDE` (no horizontal dilation) have their sizes and stride as
compile-time constants (one kernel each): the taps unroll, the lane loop is innermost and
vectorises, each window row's taps are whole interleaved groups of the stride (loads and
shuffles, no gathers), and each window row is folded on its own before the rows are. Other
windows take their taps in order. The results are `onnx_pool_rows`'s up to the rounding of
the sums and the sign of zero maxima.
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
"""Window sizes and horizontal strides up to this are compile-time constants (one kernel
each)."""


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
    k_hc: hg.Const[int],
    phases: hg.Const[int],
    phase_width: hg.int64,
    planes: hg.int64,
    first: hg.int64,
):
    """Lane (ow, oh, j) of plane nc = first + j (j < planes) writes element (oh, ow) of it: the
    max (`mode` 0) or the average (1, the sum over `counts[oh * out_w + ow]`) of its window in
    the padded input `x` (height x width planes, every window inside). The window is `k_hc` x
    `k_w` taps at horizontal stride `s_w` without horizontal dilation (or, with rows in
    `phases` > 1 phases of `phase_width` columns, `_conv_padded.Padded`, at stride `phases`
    where `s_w` is 1), or when `k_w` is 0, k_h x `taps_w` taps at stride `step_w`."""
    ow = hg.int64(hg.global_id(0))
    oh = hg.int64(hg.global_id(1))
    j = hg.int64(hg.global_id(2))
    # The lane's x alone first: a block whose lanes all pass it runs unmasked.
    if ow < out_w:  # noqa: SIM102
        if oh < out_h and j < planes:
            nc = j + first
            top = (nc * height + oh * stride_h) * width
            v = out.dtype(-math.inf if mode == 0 else 0)
            if k_w > 0:
                # Every loop of the lane has a constant count, so the lane loop is innermost
                # and vectorises: its taps are whole interleaved groups at stride s_w. Each
                # window row is folded on its own, then the rows: chains of k_w and k_hc
                # steps, not one of k_hc * k_w (each step waits for the one before).
                for kh in range(k_hc):
                    row = top + kh * dilation_h * width + ow * s_w
                    r = x[row]
                    for kw in range(1, k_w):
                        at = row + (kw % phases) * phase_width + kw // phases
                        r = onnx_pool_tap(r, x[at], mode)
                    v = onnx_pool_tap(v, r, mode)
            else:
                for kh in range(k_h):
                    row = top + kh * dilation_h * width
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
    (_, k_h, s_h, d_h, _, o_h), (_, k_w, s_w, d_w, _, o_w) = window_axes(win)
    fixed = max(k_h, k_w, s_w) <= WIDE and d_w == 1
    # Windows wider than their stride reach into the next window's group of columns: their
    # rows are split into phases, so that each tap reads consecutive columns of one phase.
    phased = fixed and k_w > s_w > 1
    padded = pad_input(ctx, x, x.shape[0], x.shape[1], win, fill, grouped=phased)
    divisors = ctx.constant(counts.astype(types.storage_dtype(x.elem).numpy), x.elem)
    args = [padded.x, out, divisors, padded.height, padded.width, o_h, o_w, k_h, s_h, d_h]
    args += [d_w, k_w, s_w, mode, k_w if fixed else 0, 1 if phased else s_w if fixed else 0]
    args += [k_h if fixed else 0, padded.phases, padded.phase_width]
    launch_rows(ctx, onnx_pool_padded, (planes, o_h, o_w), args)
