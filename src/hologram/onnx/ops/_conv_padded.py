"""Convolution kernels that read a zero-padded copy of the input (1-D and 2-D windows).

Padding the input once (`pad_input`, skipped when there is no padding and the stride is 1)
leaves every window position inside the array, so the kernels that follow need no bounds
tests and their inner loops run straight along an output row, which the compiler vectorises.
At a horizontal stride s > 1 the padded rows are also split into s phases (the columns of
each residue modulo s, one after the other): a window tap then reads consecutive elements of
one phase, so strided convolutions load contiguous memory too. The padded copy is a fill,
then `onnx_conv_pad_runs` (each run of s input columns to the s phases) and
`onnx_conv_pad_copy` (what is left, column by column of a phase; at stride 1 every column).

- `onnx_im2col_padded` writes the patch matrix, one lane per element;
- `onnx_conv_depthwise3` convolves groups of one input channel (depthwise convolutions, and
  any convolution of a single-channel input) by 3x3 windows: each output element is one
  expression of nine loads, and the epilogue (bias, residual, activation) is applied before
  the single store.

Every kernel here has one lane per output element in a 3-D block: x along an output row
(consecutive lanes, consecutive addresses: one vectorised loop on the cpu, coalesced loads
on a GPU), y over rows and z over planes. A block holds whole planes, several of them when
they are small (`launch_rows`: at least `BLOCK_LANES` lanes), so that a GPU block is not
mostly idle and the cpu pays its per-block work once for many small planes. Whatever
depends on the row or the plane alone is decoded from the y and z coordinates (with
multiplications by magic numbers, `pitch_magic`, in a small constant table, rather than
divisions; the patch matrix's rows from a table of offsets), so that the cpu renderer
computes it once per row or plane, ahead of the lanes. A grid's z is at most `MAX_PLANES`:
more take several launches, each told its first plane and its count.

`convolve` (`_convolve.py`) picks them for float32 and float64 convolutions whose input is
already in the compute type; the general kernels in `_conv_kernels.py` serve the rest (3-D
windows, integer and narrow float inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.kernels._elementwise import magic_quotient, pitch_magic
from hologram.onnx.ops._conv_kernels import onnx_conv_activation
from hologram.onnx.ops._nn_geometry import Window
from hologram.onnx.ops._nn_kernels import fill as fill_tensor

MAX_PLANES = 65535
"""The most blocks along a launch's z (the CUDA limit on a grid's y and z)."""

ROW_LANES = 1024
"""The most lanes of a block: x as wide as evenly splits a row, y filled with rows."""

BLOCK_LANES = 256
"""The fewest lanes a block of small planes has: z filled with planes up to this."""

MAX_DEPTH = 64
"""The most planes of a block (the CUDA limit on a block's z)."""

MAX_GROUPED_PHASES = 4
"""The most phases `onnx_conv_pad_runs` writes (larger strides copy phase by phase)."""


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
    # Fill, then copy what fits: both passes run unmasked, each copy's loads and stores have
    # constant strides (one pass that tested every element's column and gathered its source
    # ran ten times slower).
    fill_tensor(ctx, out, fill)
    rows, columns = min(in_h, height - p_h), min(in_w, width - p_w)
    if rows <= 0 or columns <= 0:
        return Padded(out, height, width, phases, phase_width)
    geometry = [in_h, in_w, height, width, p_h]
    runs = columns // phases if 1 < phases <= MAX_GROUPED_PHASES else 0
    if runs:
        # Runs of `phases` consecutive input columns, one to each phase: the loads are one
        # whole interleaved group, which the cpu reads as vectors and shuffles apart.
        places = [((e + p_w) % phases) * phase_width + (e + p_w) // phases for e in range(4)]
        args = [x, out, *geometry, *places, runs, phases]
        launch_rows(ctx, onnx_conv_pad_runs, (images * channels, rows, runs), args)
    # The rest column by column of each phase (at stride 1: every column).
    for start in range(runs * phases, min(runs * phases + phases, columns)):
        at = (start + p_w) % phases * phase_width + (start + p_w) // phases
        count = -(-(columns - start) // phases)
        args = [x, out, *geometry, at, start, count, phases]
        launch_rows(ctx, onnx_conv_pad_copy, (images * channels, rows, count), args)
    return Padded(out, height, width, phases, phase_width)


@hg.kernel
def onnx_conv_pad_copy(
    x: hg.Array,
    out: hg.Array,
    in_h: hg.int64,
    in_w: hg.int64,
    height: hg.int64,
    width: hg.int64,
    pad_h: hg.int64,
    to: hg.int64,
    start: hg.int64,
    count: hg.int64,
    phases: hg.Const[int],
    planes: hg.int64,
    first: hg.int64,
):
    """Lane (m, ih, j) copies element (ih, start + m * phases) of plane first + j (j < planes)
    of `x` (in_h x in_w) to (ih + pad_h, to + m) of the same plane of `out` (height x width),
    for m < count (the grid's rows are the ones that fit). At `phases` > 1 the cpu gathers
    the loads: `onnx_conv_pad_runs` copies most columns then."""
    m = hg.int64(hg.global_id(0))
    ih = hg.int64(hg.global_id(1))
    j = hg.int64(hg.global_id(2))
    # The lane's x alone first: a block whose lanes all pass it runs unmasked.
    if m < count:  # noqa: SIM102
        if ih < in_h and ih + pad_h < height and j < planes:
            at = ((j + first) * height + ih + pad_h) * width + to
            out[at + m] = x[((j + first) * in_h + ih) * in_w + start + m * phases]


@hg.kernel
def onnx_conv_pad_runs(
    x: hg.Array,
    out: hg.Array,
    in_h: hg.int64,
    in_w: hg.int64,
    height: hg.int64,
    width: hg.int64,
    pad_h: hg.int64,
    to0: hg.int64,
    to1: hg.int64,
    to2: hg.int64,
    to3: hg.int64,
    runs: hg.int64,
    phases: hg.Const[int],
    planes: hg.int64,
    first: hg.int64,
):
    """Lane (t, ih, j) copies elements (ih, t * phases + e), e < phases (2 to 4), of plane
    first + j (j < planes) of `x` (in_h x in_w) to (ih + pad_h, to_e + t) of the same plane of
    `out` (height x width), for t < runs (the grid's rows are the ones that fit). `phases` is
    a constant so that the loads are one interleaved group of a known stride."""
    t = hg.int64(hg.global_id(0))
    ih = hg.int64(hg.global_id(1))
    j = hg.int64(hg.global_id(2))
    # The lane's x alone first: a block whose lanes all pass it runs unmasked.
    if t < runs:  # noqa: SIM102
        if ih < in_h and ih + pad_h < height and j < planes:
            at = ((j + first) * height + ih + pad_h) * width + t
            src = ((j + first) * in_h + ih) * in_w + t * phases
            out[at + to0] = x[src]
            out[at + to1] = x[src + 1]
            if phases > 2:
                out[at + to2] = x[src + 2]
            if phases > 3:
                out[at + to3] = x[src + 3]


def magic_table(ctx: OpContext, pitches: list[int], extra: list[int]) -> TensorRef:
    """A u32 constant: `pitch_magic` of each of `pitches` (3 words each), then `extra`."""
    words = [word for pitch in pitches for word in pitch_magic(max(1, pitch))]
    return ctx.constant(np.array([*words, *extra, 0], np.uint32), types.UINT32)


def launch_rows(
    ctx: OpContext, kernel: object, shape: tuple[int, int, int], args: list[object]
) -> None:
    """Launch `kernel` over (planes, rows, row length) `shape`: x along a row, y over the
    rows, z over the planes (several a block when whole planes fit, at most `MAX_PLANES`
    blocks a launch); `args` then the launch's count of planes and its first plane."""
    planes, rows, length = shape
    width = -(-length // -(-length // ROW_LANES))
    height = max(1, min(rows, ROW_LANES // width))
    depth = 1
    if height == rows:
        depth = max(1, min(planes, MAX_DEPTH, BLOCK_LANES // (width * height)))
        depth = -(-planes // -(-planes // depth))  # the planes split evenly over the blocks
    for first in range(0, planes, MAX_PLANES * depth):
        count = min(MAX_PLANES * depth, planes - first)
        grid = (-(-length // width), -(-rows // height), -(-count // depth))
        ctx.launch(kernel, grid, (width, height, depth), [*args, count, first])


@hg.kernel
def onnx_im2col_padded(
    x: hg.Array,
    cols: hg.Array,
    table: hg.Array,
    offsets: hg.Array[hg.int64],
    images: hg.int64,
    first_image: hg.int64,
    image_size: hg.int64,
    width: hg.int64,
    out_h: hg.int64,
    out_w: hg.int64,
    stride_h: hg.int64,
    image_stride: hg.int64,
    planes: hg.int64,
    first: hg.int64,
):
    """Lane (ow, oh, z') of plane z = row * images + n = first + z' (z' < planes) writes
    element ow of output row oh of image n in patch row `row`, at `offsets[2 * row + 1] +
    n * image_stride + oh * out_w + ow` of `cols`, from image `first_image + n` of the padded
    input `x` (`image_size` elements of rows of `width`, see `Padded`) at
    `offsets[2 * row] + oh * stride_h * width + ow`. `table` holds `pitch_magic(images)`."""
    ow = hg.int64(hg.global_id(0))
    oh = hg.int64(hg.global_id(1))
    zl = hg.int64(hg.global_id(2))
    # The lane's x alone first: a block whose lanes all pass it runs unmasked.
    if ow < out_w:  # noqa: SIM102
        if oh < out_h and zl < planes:
            # The plane gives a row of the offset table and an image: one magic division.
            z = hg.uint32(zl) + hg.uint32(first)
            row = hg.int64(magic_quotient(z, table, 0))
            n = hg.int64(z) - row * images
            src = offsets[2 * row] + (first_image + n) * image_size
            dst = offsets[2 * row + 1] + n * image_stride
            cols[dst + oh * out_w + ow] = x[src + oh * stride_h * width + ow]


def patch_offsets(
    padded: Padded, win: Window, counts: tuple[int, int], strides: tuple[int, int]
) -> np.ndarray:
    """Per patch row (g, c, kh, kw) of `counts` = (groups, cg): where its first element lies
    in an image of `padded` and in the patch matrix, whose group and row strides are
    `strides` (int64 pairs)."""
    groups, cg = counts
    (_, k_h, _, d_h, _, _), (_, k_w, _, d_w, _, _) = window_axes(win)
    columns = np.array([padded.column(kw * d_w) for kw in range(k_w)], np.int64)
    rows = np.arange(k_h, dtype=np.int64)[:, None] * d_h * padded.width + columns
    plane = padded.height * padded.width
    gc = np.arange(groups * cg, dtype=np.int64)
    src = gc[:, None] * plane + rows.reshape(1, -1)
    g, c = np.divmod(gc, cg)
    taps = np.arange(k_h * k_w, dtype=np.int64)
    dst = g[:, None] * strides[0] + (c[:, None] * k_h * k_w + taps) * strides[1]
    return np.stack([src.reshape(-1), dst.reshape(-1)], axis=1).reshape(-1)


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
    (_, k_h, s_h, _, _, o_h), (_, k_w, _, _, _, o_w) = window_axes(win)
    offsets = patch_offsets(padded, win, (groups, cg), (strides[0], strides[1]))
    table = magic_table(ctx, [images], [])
    args = [padded.x, cols, table, ctx.constant(offsets, types.INT64), images, first]
    args += [channels * padded.height * padded.width, padded.width, o_h, o_w, s_h, strides[2]]
    launch_rows(ctx, onnx_im2col_padded, (groups * cg * k_h * k_w * images, o_h, o_w), args)


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
    table: hg.Array,
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
    lower: hg.float64,
    upper: hg.float64,
    act: hg.Const[int],
    has_residual: hg.Const[bool],
    planes: hg.int64,
    first: hg.int64,
):
    """Lane (ow, oh, z') of plane z = n * K + k = first + z' (z' < planes) writes element
    (oh, ow) of plane (n, k) of `out`: the 3x3 window of channel k // kg of the padded input
    `x` by the weights of filter k, plus bias[k], then (with `has_residual`) the same element
    of `residual`, then activation `act` with bounds `lower` and `upper`
    (`onnx_conv_activation`). `x` has height x width planes; a window's second and third
    columns lie `column1` and `column2` after its first (see `Padded`). `table` holds
    `pitch_magic` of K and kg."""
    ow = hg.int64(hg.global_id(0))
    oh = hg.int64(hg.global_id(1))
    zl = hg.int64(hg.global_id(2))
    # The lane's x alone first: a block whose lanes all pass it runs unmasked.
    if ow < out_w:  # noqa: SIM102
        if oh < out_h and zl < planes:
            z = hg.uint32(zl) + hg.uint32(first)
            n = hg.int64(magic_quotient(z, table, 0))
            k = hg.int64(z) - n * filters
            plane = (n * channels + hg.int64(magic_quotient(hg.uint32(k), table, 3))) * height
            r0 = plane * width + oh * stride_h * width + ow
            r1 = r0 + dilation_h * width
            r2 = r1 + dilation_h * width
            taps = k * 9
            d1 = column1
            d2 = column2
            v = out.dtype(w[taps]) * x[r0] + out.dtype(w[taps + 1]) * x[r0 + d1]
            v += out.dtype(w[taps + 2]) * x[r0 + d2]
            v += out.dtype(w[taps + 3]) * x[r1] + out.dtype(w[taps + 4]) * x[r1 + d1]
            v += out.dtype(w[taps + 5]) * x[r1 + d2]
            v += out.dtype(w[taps + 6]) * x[r2] + out.dtype(w[taps + 7]) * x[r2 + d1]
            v += out.dtype(w[taps + 8]) * x[r2 + d2]
            v += out.dtype(bias[k])
            dst = ((n * filters + k) * out_h + oh) * out_w + ow
            if has_residual:
                v += out.dtype(residual[dst])
            out[dst] = onnx_conv_activation(v, act, out.dtype(lower), out.dtype(upper))


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
    has_residual = residual is not None
    table = magic_table(ctx, [filters, filters // channels], [])
    args = [padded.x, w, bias, out, residual if has_residual else bias, table, filters]
    args += [filters // channels, channels, padded.height, padded.width, o_h, o_w, s_h, d_h]
    args += [padded.column(d_w), padded.column(2 * d_w), float(low), float(high), act]
    args += [has_residual]
    launch_rows(ctx, onnx_conv_depthwise3, (images * filters, o_h, o_w), args)
