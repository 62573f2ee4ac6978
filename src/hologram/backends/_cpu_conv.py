"""float32 CONV2D on the cpu backend as an implicit GEMM: no patch matrix.

A chunk of images is copied, zero-padded, into a scratch buffer that stays in the cache (its
borders are zeroed once and never written again, so each chunk only copies the interior).
At a horizontal stride s > 1 the padded rows are stored in s column phases (padded column i
at `(i % s) * phase_width + i // s`, as `onnx/ops/_conv_padded.py` does), so that the input
pixels one kernel tap meets along an output row are consecutive at every stride.

The product is `_cpu_conv_tiles.conv_strips`: tiles of 6 or 4 filters by 4 vectors of 16
output pixels, whose row of "B" for step p = (channel, dy, dx) is read at `offsets[p]` plus
each vector's base in the scratch (the patch matrix is never formed). A vector covers 16
consecutive pixels of one output row, or (outputs 8 or 4 pixels wide) 2 or 4 whole output
rows of one image. The tile adds the bias and writes straight into Y (NCHW).

Large convolutions run in parts on Numba's thread pool (`SplitConv`, as `_cpu_split` runs
products, for the same reasons): ranges of whole chunks of images, each padded into its own
scratch, or, where there is one chunk (one image, say), ranges of its strips once the chunk
is padded. Every output pixel is computed by the same tile over the same steps either way,
so the result is bitwise the same as on one thread. A convolution learns as products do
(`_cpu_split.LearnedSplit`): its first launches run on one thread and are timed, and split
launches slower than the fastest one-thread launch hold it to one thread for a time that
grows with the loss.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from hologram.backends._cpu_conv_tiles import (
    CONV_EXACT,
    CONV_STRIP,
    CONV_VECTORS,
    LANES,
    conv_strips,
    copy_phases2,
    copy_phases3,
    copy_phases4,
    copy_rows,
)
from hologram.backends._cpu_intrinsics import blas_threads
from hologram.backends._cpu_split import LearnedSplit
from hologram.isa.program import Instruction

CHUNK_PIXELS = 512
"""Output pixels per chunk of images at least (whole images): enough strips per chunk that a
small plane's vectors fill them."""
SCRATCH_BYTES = 192 << 10
"""The most bytes of padded input per chunk (more images stop being added): it stays in the L2
cache while every strip reads it."""
SPLIT_FLOPS = 1 << 25
"""Convolutions of fewer floating-point operations (about 0.2 ms on one core) stay on one
thread: handing parts to worker threads costs tens of microseconds."""


@dataclass(frozen=True)
class ConvGeometry:
    """One CONV2D's sizes (`docs/isa.mdx`) and the padded scratch layout it uses."""

    n: int
    c: int
    h: int
    w: int
    k: int
    r: int
    s: int
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]
    dilation: tuple[int, int]

    @property
    def out(self) -> tuple[int, int]:
        """Output height and width."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        top, left, bottom, right = self.pad
        oh = (self.h + top + bottom - dh * (self.r - 1) - 1) // sh + 1
        ow = (self.w + left + right - dw * (self.s - 1) - 1) // sw + 1
        return oh, ow

    @property
    def padded(self) -> tuple[int, int, int]:
        """Rows, phase width and row pitch of one padded channel: only what windows reach."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        oh, ow = self.out
        rows = (oh - 1) * sh + (self.r - 1) * dh + 1
        width = (ow - 1) * sw + (self.s - 1) * dw + 1
        phase_width = -(-width // sw)
        return rows, phase_width, phase_width * sw

    @property
    def segments(self) -> int:
        """Output rows per vector: 1 (rows wider than 8 take one or more whole vectors), 2
        or 4."""
        ow = self.out[1]
        return 1 if ow > LANES // 2 else 2 if ow > LANES // 4 else 4

    @property
    def kind(self) -> int:
        """The tile kind (`_cpu_conv_tiles.conv_strips`): segments, and whether they are full."""
        segments = self.segments
        full = segments > 1 and self.out[1] == LANES // segments
        return segments + (CONV_EXACT if full else 0)

    @property
    def chunk(self) -> int:
        """Images per chunk (see `CHUNK_PIXELS` and `SCRATCH_BYTES`)."""
        oh, ow = self.out
        rows, _, pitch = self.padded
        image_bytes = 4 * self.c * rows * pitch
        wanted = -(-CHUNK_PIXELS // (oh * ow))
        fits = max(1, SCRATCH_BYTES // image_bytes)
        return max(1, min(self.n, wanted, fits))

    def offsets(self) -> np.ndarray:
        """Per step p = (channel, dy, dx) of the product, where its tap lies from a pixel's
        base in the scratch."""
        (_, sw), (dh, dw) = self.stride, self.dilation
        rows, phase_width, pitch = self.padded
        columns = np.array(
            [(dx * dw % sw) * phase_width + dx * dw // sw for dx in range(self.s)], np.int64
        )
        taps = (np.arange(self.r, dtype=np.int64) * dh * pitch)[:, None] + columns
        channels = np.arange(self.c, dtype=np.int64) * rows * pitch
        return (channels[:, None] + taps.reshape(1, -1)).reshape(-1)

    def strips(self, images: int) -> np.ndarray:
        """The strip table (`_cpu_conv_tiles.conv_strips`) of `images` images of a chunk: per
        vector its input base in the scratch, output base from the chunk's first image,
        segment count and width; vectors in order, padded with empty ones to whole strips."""
        oh, ow = self.out
        rows, _, pitch = self.padded
        sh = self.stride[0]
        image_in, image_out = self.c * rows * pitch, self.k * oh * ow
        segments = self.segments
        vectors = []
        for image in range(images):
            if segments == 1:
                for oy in range(oh):
                    for ox in range(0, ow, LANES):
                        vectors.append(
                            (
                                image * image_in + oy * sh * pitch + ox,
                                image * image_out + oy * ow + ox,
                                1,
                                min(LANES, ow - ox),
                            )
                        )
            else:
                for oy in range(0, oh, segments):
                    vectors.append(
                        (
                            image * image_in + oy * sh * pitch,
                            image * image_out + oy * ow,
                            min(segments, oh - oy),
                            ow,
                        )
                    )
        vectors += [(0, 0, 0, 0)] * (-len(vectors) % CONV_VECTORS)
        return np.array(vectors, np.int64).reshape(-1)

    def steps(self) -> np.ndarray:
        """Input and output distance between a vector's rows."""
        rows, _, pitch = self.padded
        return np.array([self.stride[0] * pitch, self.out[1]], np.int64)


def geometry_of(inst: Instruction) -> ConvGeometry:
    """The geometry of a CONV2D instruction."""
    n, c, h, w, k, r, s = (int(inst.attr(name)) for name in ("n", "c", "h", "w", "k", "r", "s"))  # type: ignore[arg-type]
    stride, pad, dilation = (tuple(inst.attr(name)) for name in ("stride", "pad", "dilation"))  # type: ignore[arg-type]
    return ConvGeometry(n, c, h, w, k, r, s, stride, pad, dilation)  # type: ignore[arg-type]


def serves(inst: Instruction) -> bool:
    """Whether this implicit GEMM runs the CONV2D: one group (float32 is the caller's test)."""
    return int(inst.attr("groups")) == 1  # type: ignore[arg-type]


@numba.njit(cache=True, nogil=True)
def _pad_chunk(x, scratch, first, count, geo):  # type: ignore[no-untyped-def]
    """Copy images first .. first+count of x into the interior of their scratch slots."""
    c, h, w, top, left, rows, phases, phase_width, pitch, width = (
        geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], geo[6], geo[7], geo[8], geo[9]
    )  # fmt: skip
    height = min(h, rows - top)
    columns = min(w, width - left)
    # The first column whose padded column is in phase 0: whole groups of `phases` columns
    # from there on, one to each phase, are copied by vectors (the few before it one by one).
    lead = min(columns, (-left) % phases)
    place = (lead + left) // phases
    for j in range(count):
        for ch in range(c):
            src = ((first + j) * c + ch) * h * w
            dst = (j * c + ch) * rows * pitch + top * pitch
            if phases == 1:
                copy_rows(x, src, w, scratch, dst + left, pitch, height, columns)
                continue
            for iy in range(height):
                for ix in range(lead):
                    i = ix + left
                    scratch[dst + iy * pitch + i % phases * phase_width + i // phases] = x[
                        src + iy * w + ix
                    ]
            at, to, rest = src + lead, dst + place, columns - lead
            if phases == 2:
                copy_phases2(x, at, w, scratch, to, pitch, height, rest, phase_width)
            elif phases == 3:
                copy_phases3(x, at, w, scratch, to, pitch, height, rest, phase_width)
            elif phases == 4:
                copy_phases4(x, at, w, scratch, to, pitch, height, rest, phase_width)
            else:
                for iy in range(height):
                    for ix in range(lead, columns):
                        i = ix + left
                        scratch[dst + iy * pitch + i % phases * phase_width + i // phases] = x[
                            src + iy * w + ix
                        ]


@numba.njit(cache=True, nogil=True)
def convolve_images(x, w, y, bias, scratch, offsets, full, last, steps, geo, first, stop):  # type: ignore[no-untyped-def]  # noqa: E501
    """Images first .. stop of the convolution: chunk by chunk, pad into `scratch` then run
    the strips (`full` for a whole chunk, `last` for a final shorter one)."""
    chunk, kind, k, filters, image_out = geo[10], geo[11], geo[12], geo[13], geo[14]
    plane = geo[15]
    for start in range(first, stop, chunk):
        count = min(chunk, stop - start)
        _pad_chunk(x, scratch, start, count, geo)
        table = full if count == chunk else last
        strips = table.size // CONV_STRIP
        out = start * image_out
        conv_strips(
            kind, k, filters, w, scratch, offsets, table, strips, steps, y, out, plane, bias
        )


@numba.njit(cache=True, nogil=True, parallel=True)
def _convolve_parts(x, w, y, bias, scratch, offsets, full, last, steps, geo, table):  # type: ignore[no-untyped-def]  # noqa: E501
    """Every part of `table` (`ImplicitConv.parts`) concurrently on Numba's pool: images
    first .. stop in the scratch row `part`, or (part < 0) strips first .. stop of the one
    chunk, already padded in scratch row 0."""
    for i in numba.prange(table.shape[0]):
        part, first, stop = table[i, 0], table[i, 1], table[i, 2]
        if part >= 0:
            convolve_images(
                x, w, y, bias, scratch[part], offsets, full, last, steps, geo, first, stop
            )
        else:
            strips = full[first * CONV_STRIP : stop * CONV_STRIP]
            kind, k, filters, plane = geo[11], geo[12], geo[13], geo[15]
            conv_strips(
                kind, k, filters, w, scratch[0], offsets, strips, stop - first, steps, y, 0,
                plane, bias,
            )  # fmt: skip


class ImplicitConv:
    """A prepared float32 CONV2D: tables made once, a scratch row kept per part."""

    def __init__(self, geo: ConvGeometry) -> None:
        self.geo = geo
        oh, ow = geo.out
        rows, phase_width, pitch = geo.padded
        sw, left = geo.stride[1], geo.pad[1]
        width = (ow - 1) * sw + (geo.s - 1) * geo.dilation[1] + 1
        chunk = geo.chunk
        self.table = np.array(
            [geo.c, geo.h, geo.w, geo.pad[0], left, rows, sw, phase_width, pitch, width]
            + [chunk, geo.kind, geo.c * geo.r * geo.s, geo.k, geo.k * oh * ow, oh * ow],
            np.int64,
        )
        self.offsets = geo.offsets()
        self.full = geo.strips(chunk)
        rest = geo.n % chunk
        self.last = geo.strips(rest) if rest else self.full
        self.step_table = geo.steps()
        self.scratch_size = chunk * geo.c * rows * pitch + 4 * (self.step_table[0] + LANES)
        self._scratch = np.zeros((0, self.scratch_size), np.float32)

    @property
    def flops(self) -> int:
        """Floating-point operations of one launch."""
        oh, ow = self.geo.out
        return 2 * self.geo.n * self.geo.k * oh * ow * self.geo.c * self.geo.r * self.geo.s

    def scratch(self, parts: int = 1) -> np.ndarray:
        """Zeroed scratch rows for `parts` parts (made on first use, kept: their borders stay
        zero)."""
        if len(self._scratch) < parts:
            grown = np.zeros((parts, self.scratch_size), np.float32)
            grown[: len(self._scratch)] = self._scratch
            self._scratch = grown
        return self._scratch

    def run(self, x: np.ndarray, w: np.ndarray, y: np.ndarray, bias: np.ndarray) -> None:
        """Convolve every image on this thread."""
        args = (self.scratch()[0], self.offsets, self.full, self.last, self.step_table)
        convolve_images(x, w, y, bias, *args, self.table, 0, self.geo.n)

    def parts(self, count: int) -> np.ndarray:
        """The launch cut into at most `count` parts, one (part, first, stop) row each:
        ranges of whole chunks of images (part >= 0: its scratch row), or where there is one
        chunk, ranges of its strips (part -1)."""
        chunk, n = self.geo.chunk, self.geo.n
        chunks = -(-n // chunk)
        if chunks > 1:
            bounds = [min(n, chunks * p // count * chunk) for p in range(count + 1)]
            pairs = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if a < b]
            rows = [(part, a, b) for part, (a, b) in enumerate(pairs)]
        else:
            strips = self.full.size // CONV_STRIP
            bounds = [strips * p // count for p in range(count + 1)]
            rows = [(-1, a, b) for a, b in zip(bounds, bounds[1:], strict=False) if a < b]
        return np.array(rows, np.int64).reshape(-1, 3)

    def run_parts(
        self, x: np.ndarray, w: np.ndarray, y: np.ndarray, bias: np.ndarray, table: np.ndarray
    ) -> None:
        """Convolve every image in the parts of `table` (`parts`), concurrently."""
        scratch = self.scratch(max(1, int(table[:, 0].max()) + 1))
        if table[0, 0] < 0:
            _pad_chunk(x, scratch[0], 0, self.geo.n, self.table)
        numba.set_num_threads(min(len(table), numba.config.NUMBA_NUM_THREADS))  # per caller
        args = (scratch, self.offsets, self.full, self.last, self.step_table, self.table)
        _convolve_parts(x, w, y, bias, *args, table)


class SplitConv(LearnedSplit):
    """An `ImplicitConv` run on one thread or in parts on several (`LearnedSplit`).
    Called as (X, W, Y, bias): Y = conv(X, W) + bias; returns 0."""

    def __init__(self, conv: ImplicitConv, threads: int, quiet: Callable[[], bool]) -> None:
        super().__init__(quiet)
        self.conv = conv
        threads = min(threads, numba.config.NUMBA_NUM_THREADS)
        self.table = conv.parts(threads if conv.flops >= SPLIT_FLOPS else 1)

    @property
    def parts(self) -> int:
        """How many parts a split launch runs."""
        return len(self.table)

    def run_serial(  # type: ignore[override]
        self, x: np.ndarray, w: np.ndarray, y: np.ndarray, bias: np.ndarray
    ) -> int:
        """The whole convolution on this thread."""
        self.conv.run(x, w, y, bias)
        return 0

    def run_split(  # type: ignore[override]
        self, x: np.ndarray, w: np.ndarray, y: np.ndarray, bias: np.ndarray
    ) -> int:
        """The convolution's parts on Numba's pool."""
        self.conv.run_parts(x, w, y, bias, self.table)
        return 0


@functools.lru_cache(maxsize=256)
def implicit(geo: ConvGeometry, threads: int = 1) -> SplitConv:
    """The prepared convolution of `geo` for `threads` threads (kept: plans launch the same
    shapes again, and what its launches taught stays with it)."""
    return SplitConv(ImplicitConv(geo), threads, blas_threads.spinning)


@functools.lru_cache(maxsize=64)
def _zeros(count: int) -> np.ndarray:
    return np.zeros(count, np.float32)


def conv2d_f32(inst: Instruction, buffers: list[np.ndarray], threads: int = 1) -> None:
    """Y = conv(X, W) + bias for a float32 CONV2D that `serves` accepts, on up to `threads`
    threads; the caller checked the buffers' extents and that Y overlaps neither X nor W."""
    geo = geometry_of(inst)
    x, w, y = buffers[:3]
    bias = buffers[3] if len(buffers) > 3 else _zeros(geo.k)
    implicit(geo, threads)(x, w, y, bias)
