"""MaxPool and AveragePool over 1-D and 2-D windows from a padded input, rows vectorised.

The padding that the windows read is made real once (`pad_input`, with -inf for the max and
0 for the sum; skipped where no window leaves the input), so every tap of every window is
inside the array and the kernel needs no bounds tests. A lane writes a few output rows; per
row, each tap updates the whole row's running max or sum in the output (which stays in the
first-level cache), in the window's tap order, so the result is the one `onnx_pool_rows`
gives. At stride 1 a window width up to `WIDE` is a compile-time constant (one kernel each):
the loop over a row's outputs then takes all the taps of a window row from consecutive
elements, which the compiler vectorises (measured: AveragePool 3x3 0.37x, MaxPool 3x3 0.61x
the row kernel's time). Strided windows read their taps in a loop, one pass per tap (with
constant strides the interleaved loads made MaxPool 2x2/2 three times slower).
AveragePool divides by the same counts as `onnx_pool_rows` (`window_counts`), so padding
takes part only as `count_include_pad` says.
"""

from __future__ import annotations

import math

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._conv_padded import pad_input, row_chunks, window_axes
from hologram.onnx.ops._nn_geometry import Window
from hologram.onnx.ops._nn_kernels import BLOCK

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
    lanes: hg.int64,
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
    chunks: hg.int64,
    chunk: hg.int64,
    mode: hg.Const[int],
    k_w: hg.Const[int],
    s_w: hg.Const[int],
):
    """Lane j < lanes, j = nc * chunks + q, writes output rows oh in [q * chunk, (q + 1) *
    chunk) of plane nc: per element the max (`mode` 0) or the average (1, the sum over
    `counts[oh * out_w + ow]`) of its window in the padded input `x` (height x width planes,
    every window inside). The window is k_h x k_w taps at horizontal stride `s_w`, or when
    `k_w` is 0, k_h x `taps_w` taps at stride `step_w`."""
    j = hg.int64(hg.global_id())
    if j < lanes:
        rest = hg.uint64(j)
        q = hg.int64(rest % hg.uint64(chunks))
        nc = hg.int64(rest // hg.uint64(chunks))
        plane = nc * height * width
        low = q * chunk
        for oh in range(low, min(low + chunk, out_h)):
            dst = (nc * out_h + oh) * out_w
            for ow in range(out_w):
                out[dst + ow] = -math.inf if mode == 0 else 0
            for kh in range(k_h):
                row = plane + (oh * stride_h + kh * dilation_h) * width
                if k_w > 0:
                    for ow in range(out_w):
                        v = out[dst + ow]
                        for kw in range(k_w):
                            v = onnx_pool_tap(v, x[row + kw * dilation_w + ow * s_w], mode)
                        out[dst + ow] = v
                else:
                    for kw in range(taps_w):
                        at = row + kw * dilation_w
                        for ow in range(out_w):
                            v = x[at + ow * step_w]
                            out[dst + ow] = onnx_pool_tap(out[dst + ow], v, mode)
            if mode == 1:
                first = oh * out_w
                for ow in range(out_w):
                    out[dst + ow] = out[dst + ow] / counts[first + ow]


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
    chunk, chunks = row_chunks(o_h, o_w)
    lanes = planes * chunks
    fixed = k_w <= WIDE and s_w == 1
    divisors = ctx.constant(counts.astype(types.storage_dtype(x.elem).numpy), x.elem)
    args = [padded.x, out, divisors, lanes, padded.height, padded.width, o_h, o_w, k_h, s_h]
    args += [d_h, d_w, k_w, s_w, chunks, chunk, mode, k_w if fixed else 0, s_w if fixed else 0]
    ctx.launch(onnx_pool_padded, hg.blocks(lanes, BLOCK), BLOCK, args)
