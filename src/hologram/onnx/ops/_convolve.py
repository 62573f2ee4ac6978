"""Convolution as im2col and the MATMUL intrinsic (BLAS on the cpu), shared by Conv,
ConvInteger, QLinearConv and DeformConv.

    cols[g, (c, kd, kh, kw), (n, od, oh, ow)] = x[n, g * cg + c, od * sd - pd + kd * dd, ...]
    y[n, g * kg + k, p] = sum_r w[g * kg + k, r] * cols[g, r, (n, p)]     (+ bias, epilogue)

The patch matrix is written by `onnx_im2col`, or for 1-D and 2-D windows of an input already
in the compute type by `onnx_im2col_padded` from a padded copy made once (`_conv_padded.py`);
a 1x1 convolution at stride 1 without padding skips it, as the input is its own patch matrix.
Depthwise 3x3 convolutions (one input channel per group) run `onnx_conv_depthwise3`, with
their epilogue fused. One group of several images (the common
case) runs a chunk of images at a time: the chunk's patch matrix (rows, images x P), one
large product by the weights (K, images x P), and the epilogue putting the images first;
chunks of about CHUNK_ELEMENTS keep the patch matrix in cache from its writing to its
reading, and one large product runs faster in BLAS than a small one per image. Otherwise
the products are one MATMUL launch: for one group its batch is the images, the weights
repeated by a batch stride of 0; for one image it is the groups; several groups of several
images take the patch matrix in group-major order, whose product the epilogue transposes
back.

The epilogue adds the bias, then (`PostOps`, from a fused Conv) a residual input and an
activation, converts into the output dtype and, for QLinearConv, requantizes; it is skipped
when the product went straight into the output and there is nothing to add. Groups of few
channels (depthwise convolutions) run `onnx_conv_direct` instead, which applies the
`PostOps` itself: their products are too small for BLAS to win back the patch matrix's cost.

float32 2-D convolutions of one group whose window is larger than 1x1 (`implicit_applies`)
launch the CONV2D intrinsic instead, which adds the bias and writes NCHW (on the cpu an
implicit GEMM that forms no patch matrix: `backends/_cpu_conv.py`); the epilogue then runs in
place only for the `PostOps`.

Integer convolutions compute in float64: products of 8-bit values summed over any realistic
window are exact there, and float64 BLAS is far faster than integer matrix products.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.isa.builder import Builder
from hologram.isa.program import Program
from hologram.onnx.ops._conv_kernels import (
    NONE,
    PLAIN,
    QUANTIZE,
    ROW_RUN,
    onnx_conv_direct,
    onnx_conv_epilogue,
    onnx_conv_weights,
    onnx_im2col,
)
from hologram.onnx.ops._conv_padded import (
    Padded,
    depthwise3,
    depthwise3_applies,
    flat_window,
    pad_input,
    padded_patch_matrix,
)
from hologram.onnx.ops._nn_geometry import AXES, Window
from hologram.onnx.ops._nn_kernels import BLOCK, fill, launch_matmul

CHUNK_ELEMENTS = 1 << 19
"""Patch-matrix elements per product when one group's images are split into chunks: a chunk's
patch matrix and product stay in cache between the im2col, the product and the epilogue."""
IMPLICIT = True
"""float32 2-D convolutions of one group run on the CONV2D intrinsic (`implicit_applies`);
False keeps them on the patch matrix (the kernels' own tests use it)."""
IMPLICIT_MIN_WIDTH = 5
"""The narrowest output (pixels per row) that CONV2D serves but for 4 (see `implicit_applies`)."""
IMPLICIT_MIN_PIXELS = 256
"""Output pixels per filter, over the images, that 4-wide outputs need to run on CONV2D."""
IMPLICIT_MAX_STRIDE = 4
"""The largest stride that CONV2D serves (its padded copy splits columns into up to 4 phases
by vectors; larger strides copy element by element)."""
DIRECT_MAX_CHANNELS = 16
"""Groups whose `channels in x channels out` is at most this run the direct kernel (measured:
on par with im2col at 4 x 4, twice as fast at 1 x 2, 2.5 times slower at 16 x 16)."""


@dataclass(frozen=True)
class ConvShape:
    """The sizes of one convolution: N images of C channels in `groups`, K filters."""

    images: int
    channels: int
    filters: int
    groups: int
    window: Window

    @property
    def cg(self) -> int:
        """Input channels per group."""
        return self.channels // self.groups

    @property
    def kg(self) -> int:
        """Filters per group."""
        return self.filters // self.groups

    @property
    def rows(self) -> int:
        """Rows of one group's patch matrix: cg * kernel size."""
        return self.cg * self.window.kernel_size

    @property
    def group_major(self) -> bool:
        """True when the patch matrix is (groups, rows, N * P) and the product needs the
        epilogue to put the images first again."""
        return self.groups > 1 and self.images > 1

    def geometry(self, rows_first: bool = False) -> list[int]:
        """The im2col kernel's table: the window, cg, groups, N, C and the group, row and
        image strides of the patch matrix (group-major, or with `rows_first` rows before
        images, as when there is one group)."""
        p, rows = self.window.out_size, self.rows
        if self.group_major or rows_first:
            strides = [rows * self.images * p, self.images * p, p]
        else:
            strides = [rows * p, p, self.groups * rows * p]
        return [*self.window.table3(), self.cg, self.groups, self.images, self.channels, *strides]

    def of_images(self, images: int) -> ConvShape:
        """The same convolution of `images` images."""
        return replace(self, images=images)


@dataclass(frozen=True)
class PostOps:
    """What a fused convolution does after the bias: add `residual` (a tensor of the
    output's shape), then apply activation `act` (`_conv_kernels.ACTIVATIONS`) with its
    bounds (Clip's min and max, LeakyRelu's alpha as `low`)."""

    act: int = NONE
    low: float = 0.0
    high: float = 0.0
    residual: TensorRef | None = None

    @property
    def active(self) -> bool:
        """True when there is something to do."""
        return self.act != NONE or self.residual is not None


def _row_chunks(win: Window) -> tuple[int, int]:
    """Output rows per lane (enough for ROW_RUN elements) and lanes per output plane."""
    rows = win.out[-2] if win.rank > 1 else 1
    chunk = min(rows, -(-ROW_RUN // win.out[-1]))
    return chunk, -(-rows // chunk)


def _planes(win: Window) -> int:
    """Output planes (along the first of three spatial axes) per image and channel."""
    return win.out[0] if win.rank == AXES else 1


def patch_matrix(
    ctx: OpContext,
    x: TensorRef,
    shape: ConvShape,
    elem: int,
    zero: TensorRef | None = None,
    cols: TensorRef | None = None,
    first: int = 0,
    padded: Padded | None = None,
) -> TensorRef:
    """The patch matrix of `x` in element type `elem`, less `zero[0]` when given: of all its
    images, or (into `cols`, rows first) of `shape.images` images from image `first` on;
    read from `padded` (`x` padded, see `pad_for`) when given."""
    win = shape.window
    rows_first = cols is not None
    if cols is None:
        cols = ctx.scratch((shape.groups * shape.rows, shape.images * win.out_size), elem)
    if padded is not None:
        strides = shape.geometry(rows_first)[-3:]
        counts = (shape.groups, shape.cg, shape.images, shape.channels)
        padded_patch_matrix(ctx, padded, cols, win, counts, tuple(strides), first)  # type: ignore[arg-type]
        return cols
    chunk, chunks = _row_chunks(win)
    lanes = shape.groups * shape.rows * shape.images * _planes(win) * chunks
    table = [*shape.geometry(rows_first), chunks, chunk, first]
    geo = ctx.constant(np.array(table, np.int64))
    shift = zero is not None
    if zero is None:
        zero = _zeros(ctx, 1, elem)
    args = [x, cols, zero, lanes, geo, shift]
    ctx.launch(onnx_im2col, hg.blocks(lanes, BLOCK), BLOCK, args)
    return cols


def pad_for(
    ctx: OpContext, x: TensorRef, shape: ConvShape, compute: int, zero: TensorRef | None
) -> Padded | None:
    """`x` padded for `onnx_im2col_padded` when that kernel serves the convolution (1-D and
    2-D windows of an input already in the compute type, no zero point), else None."""
    if not flat_window(shape.window) or x.elem != compute or zero is not None:
        return None
    return pad_input(ctx, x, shape.images, shape.channels, shape.window)


def compute_weights(
    ctx: OpContext, w: TensorRef, elem: int, zero: TensorRef | None = None
) -> TensorRef:
    """`w` in element type `elem`, less its per-filter `zero` point when given."""
    if w.elem == elem and zero is None:
        return w
    out = ctx.scratch(w.shape, elem)
    if zero is None:
        zero = _zeros(ctx, 1, elem)
    per_filter = w.size // w.shape[0]
    args = [w, out, zero, w.size, per_filter, zero.size]
    ctx.launch(onnx_conv_weights, hg.blocks(w.size, BLOCK), BLOCK, args)
    return out


@dataclass(frozen=True)
class Requantize:
    """QLinearConv's epilogue: `round(acc * scale[k]) + zero[0]`, saturated by the store."""

    scale: TensorRef
    zero: TensorRef


def convolve(
    ctx: OpContext,
    x: TensorRef,
    w: TensorRef,
    out: TensorRef,
    shape: ConvShape,
    compute: int,
    bias: TensorRef | None = None,
    x_zero: TensorRef | None = None,
    w_zero: TensorRef | None = None,
    requantize: Requantize | None = None,
    cols: TensorRef | None = None,
    post: PostOps | None = None,
) -> None:
    """Fill `out` (N, K, *out) with the convolution of `x` by `w`, computed in `compute`,
    then `post` (see the module docstring); `cols` is a patch matrix made by the caller
    (DeformConv)."""
    if out.size == 0:
        return
    post = post or PostOps()
    win, p = shape.window, shape.window.out_size
    weights = compute_weights(ctx, w, compute, w_zero)
    if bias is None:
        bias = _zeros(ctx, shape.filters, compute)
    if shape.rows == 0:
        # No input channels: the products are empty sums, the output is the bias.
        acc = fill(ctx, ctx.scratch(out.shape, compute), 0)
        _epilogue(ctx, acc, out, shape, requantize, (shape.filters * p, p), bias, post)
        return
    floats = compute in (types.FLOAT, types.DOUBLE)
    plain = cols is None and floats and x_zero is None and requantize is None
    if plain and x.elem == out.elem == compute and depthwise3_applies(win, shape.cg):
        padded = pad_input(ctx, x, shape.images, shape.channels, win)
        counts = (shape.images, shape.filters, shape.channels)
        depthwise3(ctx, padded, weights, bias, out, counts, win, _post_args(post))
        return
    few_channels = shape.cg * shape.kg <= DIRECT_MAX_CHANNELS
    if plain and not few_channels and implicit_applies(x, out, shape, compute):
        _implicit(ctx, x, weights, out, shape, bias, post)
        return
    if plain and few_channels:
        _direct(ctx, x, weights, out, shape, compute, bias, post)
        return
    pointwise = win.is_pointwise() and x.elem == compute and x_zero is None
    if cols is None and shape.groups == 1 and shape.images > 1 and not pointwise:
        _chunked(ctx, x, weights, out, shape, compute, bias, x_zero, requantize, post)
        return
    if cols is None:
        if pointwise and not shape.group_major:
            cols = x
        else:
            padded = pad_for(ctx, x, shape, compute, x_zero)
            cols = patch_matrix(ctx, x, shape, compute, x_zero, padded=padded)
    straight = out.elem == compute and not shape.group_major and requantize is None
    acc = out if straight else ctx.scratch((shape.images * shape.filters * p,), compute)
    kg, rows, images, groups = shape.kg, shape.rows, shape.images, shape.groups
    if shape.group_major:
        strides = (kg * rows, rows * images * p, kg * images * p)
        launch_matmul(ctx, weights, cols, acc, kg, images * p, rows, groups, strides=strides)
        acc_strides = (p, images * p)
    elif groups == 1:
        strides = (0, rows * p, kg * p)
        launch_matmul(ctx, weights, cols, acc, kg, p, rows, images, strides=strides)
        acc_strides = (shape.filters * p, p)
    else:
        strides = (kg * rows, rows * p, kg * p)
        launch_matmul(ctx, weights, cols, acc, kg, p, rows, groups, strides=strides)
        acc_strides = (shape.filters * p, p)
    zero_bias = bias.value is not None and not np.any(np.asarray(bias.value) != 0)
    if acc is not out or not zero_bias or post.active:
        _epilogue(ctx, acc, out, shape, requantize, acc_strides, bias, post)


def implicit_applies(x: TensorRef, out: TensorRef, shape: ConvShape, compute: int) -> bool:
    """Whether the convolution runs on the CONV2D intrinsic (an implicit GEMM on the cpu):
    float32 throughout, one group, a 2-D window larger than 1x1 at strides up to
    `IMPLICIT_MAX_STRIDE`, whose output rows are at least `IMPLICIT_MIN_WIDTH` wide, or 4
    wide with at least `IMPLICIT_MIN_PIXELS` output pixels per filter."""
    win = shape.window
    if not IMPLICIT or compute != types.FLOAT or x.elem != compute or out.elem != compute:
        return False
    # Measured against the patch matrix, per convolution of ResNet, UNet and MobileNet at
    # batches 1 and 32 (one thread): 1x1 windows (their patch matrix is a strided copy) no
    # faster; stride 1 0.6-0.75x, stride 2 0.73-0.88x, 4-wide outputs 0.82-0.86x at batch 32
    # but 1.1-1.16x at batch 1 (one 4 x 4 plane fills one vector of a 4-vector strip).
    width = win.out[-1]
    narrow = width == 4 and shape.images * win.out_size >= IMPLICIT_MIN_PIXELS
    if (
        shape.groups != 1
        or win.rank != 2
        or win.kernel_size == 1
        or max(win.strides) > IMPLICIT_MAX_STRIDE
        or (width < IMPLICIT_MIN_WIDTH and not narrow)
    ):
        return False
    return min(win.pads_begin + win.pads_end) >= 0 and tuple(win.out) == _conv2d_out(win)


def _conv2d_out(win: Window) -> tuple[int, ...]:
    """The output extents CONV2D gives for `win` (docs/isa.mdx)."""
    return tuple(
        (size + begin + end - dilation * (kernel - 1) - 1) // stride + 1
        for size, kernel, stride, dilation, begin, end in zip(
            win.spatial,
            win.kernel,
            win.strides,
            win.dilations,
            win.pads_begin,
            win.pads_end,
            strict=True,
        )
    )


@functools.cache
def conv2d_program(sizes: tuple[int, ...], geometry: tuple[tuple[int, ...], ...]) -> Program:
    """A CONV2D program with bias: `sizes` (n, c, h, w, k, r, s), `geometry` (stride, pad,
    dilation)."""
    b = Builder("onnx_conv2d")
    x, w = b.buffer("x", "f32"), b.buffer("w", "f32")
    y, bias = b.buffer("y", "f32", "write"), b.buffer("bias", "f32")
    names = ("n", "c", "h", "w", "k", "r", "s")
    stride, pad, dilation = geometry
    attrs = dict(zip(names, sizes, strict=True))
    b.conv2d(x, w, y, bias, stride=stride, pad=pad, dilation=dilation, groups=1, **attrs)
    return b.build()


def _implicit(
    ctx: OpContext,
    x: TensorRef,
    weights: TensorRef,
    out: TensorRef,
    shape: ConvShape,
    bias: TensorRef,
    post: PostOps,
) -> None:
    """The convolution on the CONV2D intrinsic, which adds the bias and writes `out` (NCHW);
    then the epilogue in place for `post`."""
    win = shape.window
    (h, w), (r, s) = win.spatial, win.kernel
    sizes = (shape.images, shape.channels, h, w, shape.filters, r, s)
    pads = (win.pads_begin[0], win.pads_begin[1], win.pads_end[0], win.pads_end[1])
    geometry = (tuple(win.strides), pads, tuple(win.dilations))
    ctx.launch(conv2d_program(sizes, geometry), 1, 1, [x, weights, out, bias])
    if post.active:
        p = win.out_size
        zeros = _zeros(ctx, shape.filters, types.FLOAT)
        _epilogue(ctx, out, out, shape, None, (shape.filters * p, p), zeros, post)


def _chunked(
    ctx: OpContext,
    x: TensorRef,
    weights: TensorRef,
    out: TensorRef,
    shape: ConvShape,
    compute: int,
    bias: TensorRef,
    x_zero: TensorRef | None,
    requantize: Requantize | None,
    post: PostOps,
) -> None:
    """One group's convolution of several images, a chunk of images at a time: the chunk's
    patch matrix (rows, images x P), one product by the weights (K, images x P), and the
    epilogue putting the images first in `out`."""
    p, rows, filters = shape.window.out_size, shape.rows, shape.filters
    most = max(1, min(shape.images, CHUNK_ELEMENTS // (rows * p)))
    count = -(-shape.images // most)
    most = -(-shape.images // count)
    cols = ctx.scratch((rows, most * p), compute)
    acc = ctx.scratch((filters, most * p), compute)
    padded = pad_for(ctx, x, shape, compute, x_zero)
    for first in range(0, shape.images, most):
        part = shape.of_images(min(most, shape.images - first))
        patch_matrix(ctx, x, part, compute, x_zero, cols, first, padded)
        launch_matmul(ctx, weights, cols, acc, filters, part.images * p, rows)
        acc_strides = (p, part.images * p)
        _epilogue(ctx, acc, out, part, requantize, acc_strides, bias, post, first)


def _direct(
    ctx: OpContext,
    x: TensorRef,
    weights: TensorRef,
    out: TensorRef,
    shape: ConvShape,
    compute: int,
    bias: TensorRef,
    post: PostOps,
) -> None:
    """The convolution by `onnx_conv_direct` (then `post`), through a `compute` copy when
    `out` is narrower."""
    win = shape.window
    acc = out if out.elem == compute else ctx.scratch(out.shape, compute)
    inline = post if acc is out else PostOps()
    chunk, chunks = _row_chunks(win)
    lanes = shape.images * shape.filters * _planes(win) * chunks
    table = [*win.table3(), shape.cg, shape.kg, shape.filters, shape.channels, chunks, chunk]
    geo = ctx.constant(np.array(table, np.int64))
    residual = inline.residual if inline.residual is not None else bias
    args = [x, weights, bias, acc, residual, lanes, geo, inline.low, inline.high, inline.act]
    ctx.launch(onnx_conv_direct, hg.blocks(lanes, BLOCK), BLOCK, [*args, residual is not bias])
    if acc is not out:
        p = win.out_size
        zeros = _zeros(ctx, shape.filters, compute)
        _epilogue(ctx, acc, out, shape, None, (shape.filters * p, p), zeros, post)


def _post_args(post: PostOps) -> tuple[int, float, float, TensorRef | None]:
    return post.act, post.low, post.high, post.residual


def _zeros(ctx: OpContext, count: int, elem: int) -> TensorRef:
    return ctx.constant(np.zeros(count, types.storage_dtype(elem).numpy), elem)


def _epilogue(
    ctx: OpContext,
    acc: TensorRef,
    out: TensorRef,
    shape: ConvShape,
    requantize: Requantize | None,
    acc_strides: tuple[int, int],
    bias: TensorRef,
    post: PostOps,
    first: int = 0,
) -> None:
    """Launch `onnx_conv_epilogue`: the `shape.images` images of `out` from image `first`
    on, from `acc`, whose row (n, k) starts at `n * acc_strides[0] + k * acc_strides[1]`."""
    p = shape.window.out_size
    # Short rows share a block (several filters' rows), so that its lanes are not mostly idle.
    width = -(-p // hg.blocks(p, BLOCK))
    height = max(1, min(shape.filters, BLOCK // width))
    grid = (hg.blocks(p, width), hg.blocks(shape.filters, height), shape.images)
    if requantize is None:
        scale = zero = bias
        mode = PLAIN
    else:
        scale, zero, mode = requantize.scale, requantize.zero, QUANTIZE
    residual = post.residual if post.residual is not None else bias
    args = [acc, out, bias, scale, zero, residual, p, shape.filters, *acc_strides, first]
    args += [post.low, post.high, mode]
    in_place = acc is out and acc_strides == (shape.filters * p, p) and first == 0
    flags = [post.act, post.residual is not None, in_place]
    ctx.launch(onnx_conv_epilogue, grid, (width, height, 1), [*args, *flags])
