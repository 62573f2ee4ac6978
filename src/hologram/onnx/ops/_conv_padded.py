"""Convolution kernels that read a zero-padded copy of the input (1-D and 2-D windows).

Padding the input once (`onnx_conv_pad`, skipped when there is no padding and the stride
is 1) leaves every window position inside the array, so the kernels that follow need no
bounds tests and their inner loops run straight along an output row, which the compiler
vectorises. At a horizontal stride s > 1 the padded rows are also split into s phases (the
columns of each residue modulo s, one after the other): a window tap then reads consecutive
elements of one phase, so strided convolutions load contiguous memory too.

- `onnx_im2col_padded` writes the patch matrix row by row, each output row one contiguous
  copy;
- `onnx_conv_depthwise3` convolves groups of one input channel (depthwise convolutions, and
  any convolution of a single-channel input) by 3x3 windows: the nine weights stay in
  registers, each output element is one expression of nine loads, and the epilogue (bias,
  residual, activation) is applied before the single store.

`convolve` (`_convolve.py`) picks them for float32 and float64 convolutions whose input is
already in the compute type; the general kernels in `_conv_kernels.py` serve the rest (3-D
windows, integer and narrow float inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import hologram as hg
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._conv_kernels import (
    ROW_RUN,
    onnx_conv_activation,
    onnx_row_high,
    onnx_row_low,
)
from hologram.onnx.ops._nn_geometry import Window
from hologram.onnx.ops._nn_kernels import BLOCK


@dataclass(frozen=True)
class Padded:
    """A (images, channels, height, width) tensor whose every window position is inside:
    `x` itself when nothing is to be done, else a zero-padded copy whose rows hold `phases`
    phases of `phase_width` columns each (padded column i at `(i % phases) * phase_width +
    i // phases`)."""

    x: TensorRef
    height: int
    width: int
    phases: int = 1
    phase_width: int = 0

    def column(self, offset: int) -> int:
        """Where padded column `offset` of a window (from its first column) lies in a row,
        relative to the window's first column at `phases * o`."""
        return (offset % self.phases) * self.phase_width + offset // self.phases


def flat_window(win: Window) -> bool:
    """True for 1-D and 2-D windows (the ones these kernels serve)."""
    return win.rank <= 2


def window_axes(win: Window) -> list[tuple[int, int, int, int, int, int]]:
    """(extent, kernel, stride, dilation, begin pad, out) of the height and width axes."""
    table = win.table3()
    return [tuple(table[7 * axis : 7 * axis + 6]) for axis in (1, 2)]  # type: ignore[misc]


def pad_input(
    ctx: OpContext,
    x: TensorRef,
    images: int,
    channels: int,
    win: Window,
    fill: float = 0.0,
    grouped: bool = True,
) -> Padded:
    """`x` (images, channels, *win.spatial) with the padding that `win` reads made real
    (`fill` where it reads outside `x`); with `grouped`, strided columns in phases."""
    (in_h, k_h, s_h, d_h, p_h, o_h), (in_w, k_w, s_w, d_w, p_w, o_w) = window_axes(win)
    # Only what the windows reach: ceil mode or a large end pad may leave input rows unread.
    height = (o_h - 1) * s_h + (k_h - 1) * d_h + 1
    width = (o_w - 1) * s_w + (k_w - 1) * d_w + 1
    phases = s_w if grouped else 1
    if p_h == 0 and p_w == 0 and phases == 1 and height <= in_h and width <= in_w:
        return Padded(x, in_h, in_w, 1, in_w)
    phase_width = -(-width // phases)
    width = phase_width * phases
    out = ctx.scratch((images, channels, height, width), x.elem)
    planes = images * channels
    args = [x, out, planes, in_h, in_w, height, width, p_h, p_w, phases, phase_width]
    ctx.launch(onnx_conv_pad, hg.blocks(planes, BLOCK), BLOCK, [*args, float(fill)])
    return Padded(out, height, width, phases, phase_width)


@hg.kernel
def onnx_conv_pad(
    x: hg.Array,
    out: hg.Array,
    planes: hg.int64,
    in_h: hg.int64,
    in_w: hg.int64,
    height: hg.int64,
    width: hg.int64,
    pad_h: hg.int64,
    pad_w: hg.int64,
    phases: hg.int64,
    phase_width: hg.int64,
    fill: hg.float64,
):
    """Lane j < planes writes plane j of `out` (height rows of `phases` x `phase_width`):
    plane j of `x` (in_h x in_w) moved down by pad_h rows and right by pad_w columns, `fill`
    around it (what does not fit is left out), padded column i of a row at
    `(i % phases) * phase_width + i // phases`."""
    j = hg.int64(hg.global_id())
    if j < planes:
        pad = out.dtype(fill)
        src = j * in_h * in_w
        dst = j * height * width
        # Phase by phase: a phase's bounds hold for every row, so they are found once.
        for f in range(phases):
            start = f - pad_w
            low = onnx_row_low(start, phases, phase_width)
            high = onnx_row_high(start, phases, in_w, phase_width, low)
            for h in range(height):
                at = dst + h * width + f * phase_width
                ih = h - pad_h
                if ih >= 0 and ih < in_h:
                    for m in range(low):
                        out[at + m] = pad
                    first = src + ih * in_w + start
                    if phases == 1:
                        for m in range(low, high):
                            out[at + m] = x[first + m]
                    else:
                        for m in range(low, high):
                            out[at + m] = x[first + m * phases]
                    for m in range(high, phase_width):
                        out[at + m] = pad
                else:
                    for m in range(phase_width):
                        out[at + m] = pad


def row_chunks(rows: int, width: int) -> tuple[int, int]:
    """Output rows per lane (enough for ROW_RUN elements) and lanes per output plane."""
    chunk = min(rows, -(-ROW_RUN // width))
    return chunk, -(-rows // chunk)


@hg.kernel
def onnx_im2col_padded(
    x: hg.Array,
    cols: hg.Array,
    lanes: hg.int64,
    images: hg.int64,
    first: hg.int64,
    channels: hg.int64,
    cg: hg.int64,
    k_h: hg.int64,
    k_w: hg.int64,
    height: hg.int64,
    width: hg.int64,
    out_h: hg.int64,
    out_w: hg.int64,
    stride_h: hg.int64,
    dilation_h: hg.int64,
    dilation_w: hg.int64,
    phases: hg.int64,
    phase_width: hg.int64,
    group_stride: hg.int64,
    row_stride: hg.int64,
    image_stride: hg.int64,
    chunks: hg.int64,
    chunk: hg.int64,
):
    """Lane j < lanes, j = (((g * cg + c) * images + n) * chunks + q), writes the patch rows
    r = (c, kh, kw) of group g for output rows oh in [q * chunk, (q + 1) * chunk) of image n:
    OW elements each, at `g * group_stride + r * row_stride + n * image_stride + oh * out_w`
    of `cols`, from image `first + n` of the padded input `x` (height x width planes, rows in
    `phases` phases of `phase_width`, see `Padded`)."""
    j = hg.int64(hg.global_id())
    if j < lanes:
        # Unsigned division: the lane's coordinates are never negative.
        rest = hg.uint64(j)
        q = hg.int64(rest % hg.uint64(chunks))
        rest = rest // hg.uint64(chunks)
        n = hg.int64(rest % hg.uint64(images))
        gc = hg.int64(rest // hg.uint64(images))
        g = gc // cg
        plane = ((first + n) * channels + gc) * height * width
        taps = k_h * k_w
        dst = g * group_stride + (gc - g * cg) * taps * row_stride + n * image_stride
        low = q * chunk
        high = min(low + chunk, out_h)
        for kh in range(k_h):
            for kw in range(k_w):
                tap = kw * dilation_w
                src = plane + kh * dilation_h * width + (tap % phases) * phase_width
                src += tap // phases
                row = dst + (kh * k_w + kw) * row_stride
                for oh in range(low, high):
                    at = src + oh * stride_h * width
                    to = row + oh * out_w
                    for ow in range(out_w):
                        cols[to + ow] = x[at + ow]


def padded_patch_matrix(
    ctx: OpContext,
    padded: Padded,
    cols: TensorRef,
    win: Window,
    counts: tuple[int, int, int, int],
    strides: tuple[int, int, int],
    first: int = 0,
) -> None:
    """Write the patch matrix of `counts` = (groups, cg, images, channels) from image `first`
    of `padded` into `cols`, whose group, row and image strides are `strides`."""
    groups, cg, images, channels = counts
    (_, k_h, s_h, d_h, _, o_h), (_, k_w, s_w, d_w, _, o_w) = window_axes(win)
    chunk, chunks = row_chunks(o_h, o_w)
    lanes = groups * cg * images * chunks
    args = [padded.x, cols, lanes, images, first, channels, cg, k_h, k_w]
    args += [padded.height, padded.width, o_h, o_w, s_h, d_h, d_w, padded.phases]
    args += [padded.phase_width, *strides, chunks, chunk]
    ctx.launch(onnx_im2col_padded, hg.blocks(lanes, BLOCK), BLOCK, args)


def depthwise3_applies(win: Window, cg: int) -> bool:
    """True when `onnx_conv_depthwise3` serves the convolution: one input channel per group
    and a 3x3 window."""
    return cg == 1 and win.rank == 2 and tuple(win.kernel) == (3, 3)


@hg.kernel
def onnx_conv_depthwise3(
    x: hg.Array,
    w: hg.Array,
    bias: hg.Array,
    out: hg.Array,
    residual: hg.Array,
    lanes: hg.int64,
    filters: hg.int64,
    kg: hg.int64,
    channels: hg.int64,
    height: hg.int64,
    width: hg.int64,
    out_h: hg.int64,
    out_w: hg.int64,
    stride_h: hg.int64,
    dilation_h: hg.int64,
    column1: hg.int64,
    column2: hg.int64,
    chunks: hg.int64,
    chunk: hg.int64,
    lower: hg.float64,
    upper: hg.float64,
    act: hg.Const[int],
    has_residual: hg.Const[bool],
):
    """Lane j < lanes, j = (n * K + k) * chunks + q, writes output rows oh in
    [q * chunk, (q + 1) * chunk) of plane (n, k) of `out`: the 3x3 window of channel
    k // kg of the padded input `x` by the weights of filter k, plus bias[k], then (with
    `has_residual`) the same element of `residual`, then activation `act` with bounds
    `lower` and `upper` (`onnx_conv_activation`). `x` has height x width planes; a window's
    second and third columns lie `column1` and `column2` after its first (see `Padded`)."""
    j = hg.int64(hg.global_id())
    if j < lanes:
        rest = hg.uint64(j)
        q = hg.int64(rest % hg.uint64(chunks))
        rest = rest // hg.uint64(chunks)
        k = hg.int64(rest % hg.uint64(filters))
        n = hg.int64(rest // hg.uint64(filters))
        plane = (n * channels + k // kg) * height * width
        taps = k * 9
        w0 = out.dtype(w[taps])
        w1 = out.dtype(w[taps + 1])
        w2 = out.dtype(w[taps + 2])
        w3 = out.dtype(w[taps + 3])
        w4 = out.dtype(w[taps + 4])
        w5 = out.dtype(w[taps + 5])
        w6 = out.dtype(w[taps + 6])
        w7 = out.dtype(w[taps + 7])
        w8 = out.dtype(w[taps + 8])
        b = out.dtype(bias[k])
        lo = out.dtype(lower)
        hi = out.dtype(upper)
        d1 = column1
        d2 = column2
        low = q * chunk
        for oh in range(low, min(low + chunk, out_h)):
            r0 = plane + oh * stride_h * width
            r1 = r0 + dilation_h * width
            r2 = r1 + dilation_h * width
            dst = ((n * filters + k) * out_h + oh) * out_w
            for i in range(out_w):
                v = w0 * x[r0 + i] + w1 * x[r0 + i + d1] + w2 * x[r0 + i + d2]
                v += w3 * x[r1 + i] + w4 * x[r1 + i + d1] + w5 * x[r1 + i + d2]
                v += w6 * x[r2 + i] + w7 * x[r2 + i + d1] + w8 * x[r2 + i + d2]
                v += b
                if has_residual:
                    v += out.dtype(residual[dst + i])
                out[dst + i] = onnx_conv_activation(v, act, lo, hi)


def depthwise3(
    ctx: OpContext,
    padded: Padded,
    w: TensorRef,
    bias: TensorRef,
    out: TensorRef,
    counts: tuple[int, int, int],
    win: Window,
    post: tuple[int, float, float, TensorRef | None],
) -> None:
    """Launch `onnx_conv_depthwise3` for `counts` = (images, filters, channels) and `post`
    = (activation, low, high, residual)."""
    images, filters, channels = counts
    act, low, high, residual = post
    (_, _, s_h, d_h, _, o_h), (_, _, _, d_w, _, o_w) = window_axes(win)
    chunk, chunks = row_chunks(o_h, o_w)
    lanes = images * filters * chunks
    has_residual = residual is not None
    args = [padded.x, w, bias, out, residual if has_residual else bias, lanes, filters]
    args += [filters // channels, channels, padded.height, padded.width, o_h, o_w, s_h, d_h]
    args += [padded.column(d_w), padded.column(2 * d_w), chunks, chunk, float(low)]
    args += [float(high), act, has_residual]
    ctx.launch(onnx_conv_depthwise3, hg.blocks(lanes, BLOCK), BLOCK, args)
