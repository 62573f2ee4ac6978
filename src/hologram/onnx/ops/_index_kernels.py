"""What the shape and indexing ops share: strided copies and reads through index tensors.

Most of these ops move elements without computing on them. Each output element comes from
one input element whose offset is an affine function of the output coordinates: a
transpose permutes the input's strides, a slice scales them by its steps and starts at an
offset, an expand or a tile reads with stride 0 along repeated dimensions. One kernel,
`onnx_strided_copy`, covers them all. `copy_strided` merges the dimensions that the input
and the output walk together, then gives each lane a run of up to `ROW_CHUNK` elements along
the innermost one: the run's first offsets come from the `layout` table of
`hologram/kernels/_elementwise.py` (pitches, then per operand the coefficients that turn a
row index into an element offset), once per run, and the run is a loop with one fixed step
per operand (a plain copy loop when both steps are 1).

The gather kernel copies rows picked along one axis by an index tensor (Gather, Compress,
Unique). Indices are normalised as ONNX says (a negative index counts from the end) and then
clamped into the axis, so that a bad index reads a valid element instead of stray memory.
The pad kernel works by rows too: the axes before the last decide where a row comes from, and
the last axis is the row's inside copied as a run plus its two borders.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.kernels._elementwise import layout_table, strided_offset

BLOCK = 256
"""Lanes per block of every launch here."""

ROW_CHUNK = 1024
"""Elements of a row a lane copies (rows longer than this are split over more lanes)."""


@hg.kernel
def onnx_strided_copy(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    chunks: hg.uint32,
    last: hg.uint32,
    layout: hg.Array[hg.uint32],
    x_base: hg.uint32,
    out_base: hg.uint32,
    x_step: hg.int64,
    out_step: hg.int64,
    rank: hg.Const[int] = 1,
):
    """Lane `l < n` copies part `l % chunks` (`ROW_CHUNK` elements) of row `r = l // chunks`
    of the view: element `k < last` of row `r` is `x[x_base + offset_0(r) + k * x_step]`,
    written to `out[out_base + offset_1(r) + k * out_step]`, offsets from `layout`."""
    lane = hg.uint32(hg.global_id())
    if lane < n:
        row = lane // chunks
        start = hg.int64(lane - row * chunks) * ROW_CHUNK
        stop = min(start + ROW_CHUNK, hg.int64(last))
        j = hg.int64(x_base + strided_offset(row, layout, rank, 0))
        o = hg.int64(out_base + strided_offset(row, layout, rank, 1))
        if x_step == 1 and out_step == 1:
            for k in range(start, stop):
                out[o + k] = x[j + k]
        else:
            for k in range(start, stop):
                out[o + k * out_step] = x[j + k * x_step]


@hg.func
def onnx_wrapped_index(index, size):
    """`index` into an axis of `size` elements: negative counts from the end, and anything
    still outside `[0, size)` is clamped into it (so a bad index never reads stray memory)."""
    k = hg.int64(index)
    if k < 0:
        k += size
    return min(max(k, 0), size - 1)


@hg.kernel
def onnx_gather_axis(
    data: hg.Array,
    indices: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    chunks: hg.uint32,
    inner: hg.uint32,
    count: hg.uint32,
    axis_size: hg.int64,
):
    """Lane `l < n` copies part `l % chunks` (`ROW_CHUNK` elements) of row `r = l // chunks`
    of `out` viewed as `(outer, count, inner)` rows `(o, j)`: row `(o, indices[j])` of
    `data` viewed as `(outer, axis_size, inner)`."""
    lane = hg.uint32(hg.global_id())
    if lane < n:
        row = lane // chunks
        start = hg.int64(lane - row * chunks) * ROW_CHUNK
        stop = min(start + ROW_CHUNK, hg.int64(inner))
        j = row % count
        taken = onnx_wrapped_index(indices[j], axis_size)
        source = (hg.int64(row // count) * axis_size + taken) * inner
        target = hg.int64(row) * inner
        for k in range(start, stop):
            out[target + k] = data[source + k]


def contiguous_strides(shape: Sequence[int]) -> list[int]:
    """Element strides of a C-contiguous tensor of `shape`."""
    return [math.prod(shape[d + 1 :]) for d in range(len(shape))]


def collapse(
    dims: Sequence[int], strides: Sequence[Sequence[int]]
) -> tuple[list[int], list[list[int]]]:
    """`dims` with size-1 dimensions dropped and neighbours merged where every operand walks
    them as one (`stride[d] == stride[d + 1] * dims[d + 1]`); at least one dimension."""
    merged: list[int] = []
    kept: list[list[int]] = [[] for _ in strides]
    for axis, size in enumerate(dims):
        if size == 1:
            continue
        if merged and all(s[-1] == per[axis] * size for s, per in zip(kept, strides, strict=True)):
            merged[-1] *= size
            for s, per in zip(kept, strides, strict=True):
                s[-1] = per[axis]
        else:
            merged.append(size)
            for s, per in zip(kept, strides, strict=True):
                s.append(per[axis])
    if not merged:
        return [1], [[0] for _ in strides]
    return merged, kept


def copy_strided(
    ctx: OpContext,
    x: TensorRef,
    out: TensorRef,
    dims: Sequence[int],
    x_strides: Sequence[int],
    x_base: int = 0,
    out_strides: Sequence[int] | None = None,
    out_base: int = 0,
) -> None:
    """Copy the `dims`-shaped view of `x` (element `x_base + sum(c * x_strides)` at coordinate
    `c`) into `out`: contiguously from `out_base`, or through `out_strides` when given."""
    if math.prod(dims) == 0:
        return
    if out_strides is None:
        out_strides = contiguous_strides(dims)
    merged, (x_view, out_view) = collapse(dims, [list(x_strides), list(out_strides)])
    last = merged.pop()
    x_step, out_step = x_view.pop(), out_view.pop()
    if not merged:
        merged, x_view, out_view = [1], [0], [0]
    table = ctx.constant(layout_table(merged, [x_view, out_view]), types.UINT32)
    chunks = -(-last // ROW_CHUNK)
    lanes = math.prod(merged) * chunks
    args = [x, out, lanes, chunks, last, table, x_base % 2**32, out_base, x_step, out_step]
    ctx.launch(onnx_strided_copy, hg.blocks(lanes, BLOCK), BLOCK, [*args, len(merged)])


def copy_permuted(
    ctx: OpContext, x: TensorRef, out: TensorRef, shape: Sequence[int], perm: Sequence[int]
) -> None:
    """`out` (contiguous) is `x` viewed as `shape` with its axes permuted by `perm`."""
    strides = contiguous_strides(shape)
    copy_strided(ctx, x, out, [shape[p] for p in perm], [strides[p] for p in perm])


def gather_axis(
    ctx: OpContext,
    data: TensorRef,
    indices: TensorRef,
    out: TensorRef,
    outer: int,
    axis_size: int,
    inner: int,
    count: int,
) -> None:
    """`out` as `(outer, count, inner)` takes `data` as `(outer, axis_size, inner)` at the
    first `count` entries of `indices` along the middle axis."""
    if outer * count * inner == 0:
        return
    if axis_size == 0:
        raise ctx.error("gathers from an axis of size 0")
    chunks = -(-inner // ROW_CHUNK)
    lanes = outer * count * chunks
    args = [data, indices, out, lanes, chunks, inner, count, axis_size]
    ctx.launch(onnx_gather_axis, hg.blocks(lanes, BLOCK), BLOCK, args)


def normalize_axis(ctx: OpContext, axis: int, rank: int, what: str = "axis") -> int:
    """`axis` in `[-rank, rank)` as a non-negative axis, else a ModelError."""
    if not -rank <= axis < rank:
        raise ctx.error(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def int64_table(ctx: OpContext, values: Sequence[int]) -> TensorRef:
    """A constant int64 table for a kernel (at least one entry, so never empty)."""
    return ctx.constant(np.array(list(values) or [0], np.int64), types.INT64)


@hg.func
def onnx_nd_offset(indices, row, depth, table):
    """The element offset that index row `row` (`depth` entries of `indices`) selects: entry
    `t` wrapped into an axis of `table[t]` elements, times the stride `table[depth + t]`."""
    offset = hg.int64(0)
    first = hg.int64(row) * depth
    for t in range(depth):
        offset += onnx_wrapped_index(indices[first + t], table[t]) * table[depth + t]
    return offset


PAD_MODES = {"constant": 0, "reflect": 1, "edge": 2, "wrap": 3}
"""Pad's `mode` attribute, as `onnx_pad`'s `mode` (a runtime value: one compiled kernel
serves every mode)."""


@hg.func
def onnx_pad_source(s, size, mode):
    """Where coordinate `s` (maybe outside `[0, size)`) reads from under a non-constant
    `mode`: mirrored without repeating the edge, clamped to the edge, or wrapped around."""
    if mode == 2:
        return min(max(s, 0), size - 1)
    elif mode == 3:
        return s % size
    elif size == 1:
        return hg.int64(0)
    else:
        period = 2 * (size - 1)
        m = s % period
        return period - m if m >= size else m


@hg.kernel
def onnx_pad(
    x: hg.Array,
    value: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    chunks: hg.uint32,
    rank: hg.uint32,
    table: hg.Array[hg.int64],
    last: hg.int64,
    last_in: hg.int64,
    last_begin: hg.int64,
    mode: hg.int32,
):
    """Lane `l < n` writes part `l % chunks` (`ROW_CHUNK` elements) of output row `l //
    chunks` (rows of `last` elements). The axes before the last are described by
    `table[4d:4d + 4]`: output size, input size, padding before (negative to crop) and input
    stride; the last by `last`, `last_in` and `last_begin` (the input's rows are contiguous).
    Under `constant` mode an element outside the input is `value[0]`."""
    lane = hg.uint32(hg.global_id())
    if lane < n:
        row = lane // chunks
        start = hg.int64(lane - row * chunks) * ROW_CHUNK
        stop = min(start + ROW_CHUNK, last)
        rest = hg.int64(row)
        source = hg.int64(0)
        inside = True
        for e in range(rank):
            d = (rank - 1 - e) * 4
            coordinate = rest % table[d]
            rest = rest // table[d]
            s = coordinate - table[d + 2]
            if mode == 0:
                if s < 0 or s >= table[d + 1]:
                    inside = False
            else:
                s = onnx_pad_source(s, table[d + 1], mode)
            source += s * table[d + 3]
        target = hg.int64(row) * last
        if inside:
            middle = min(max(last_begin, start), stop)
            end = min(max(last_begin + last_in, middle), stop)
            shift = source - last_begin
            for w in range(middle, end):
                out[target + w] = x[shift + w]
            for w in range(start, middle):
                out[target + w] = onnx_pad_border(x, value, source, w - last_begin, last_in, mode)
            for w in range(end, stop):
                out[target + w] = onnx_pad_border(x, value, source, w - last_begin, last_in, mode)
        else:
            for w in range(start, stop):
                out[target + w] = value[0]


@hg.func
def onnx_pad_border(x, value, row, s, size, mode):
    """The element at coordinate `s` (outside `[0, size)`) of the input row from `row`."""
    if mode == 0:
        return value[0]
    return x[row + onnx_pad_source(s, size, mode)]


def pad_into(
    ctx: OpContext,
    x: TensorRef,
    out: TensorRef,
    begins: Sequence[int],
    mode: int,
    value: TensorRef | None = None,
) -> None:
    """Fill `out` with `x` shifted by `begins` along each axis (negative crops), the rest
    taken by `mode` from the input or, for `constant`, from `value` (zero when None)."""
    if out.size == 0:
        return
    if value is None:
        value = ctx.constant(np.zeros(1, out.dtype.numpy), out.elem)
    for axis, size in enumerate(x.shape):
        if mode != PAD_MODES["constant"] and size == 0 and out.shape[axis] > 0:
            raise ctx.error(f"cannot pad the empty axis {axis} except with a constant")
    in_shape, out_shape, begins = list(x.shape or [1]), list(out.shape or [1]), list(begins or [0])
    table: list[int] = []
    for axis, stride in enumerate(contiguous_strides(in_shape)[:-1]):
        table += [out_shape[axis], in_shape[axis], begins[axis], stride]
    chunks = -(-out_shape[-1] // ROW_CHUNK)
    lanes = out.size // out_shape[-1] * chunks
    args = [x, value, out, lanes, chunks, len(in_shape) - 1, int64_table(ctx, table)]
    args += [out_shape[-1], in_shape[-1], begins[-1], mode]
    ctx.launch(onnx_pad, hg.blocks(lanes, BLOCK), BLOCK, args)
