"""What the scatter ops share: writing updates through index tensors, with reductions.

The output starts as a copy of the data; then each update is combined with the element it
addresses: replaced, or added, multiplied, or kept as the smaller or larger (the `reduction`
attribute). Updates that address the same element are applied in the order ONNX defines
(the order of the updates), by giving all of them to one lane:

- ScatterElements writes update `c` to the data at `c` with the axis coordinate replaced,
  so updates that differ off the axis never collide: a lane takes one run of updates along
  the axis and applies them in order.
- ScatterND's index rows may address any slice; with a reduction, a lane takes one element
  of the slices and applies every row to it in order. Without one, ONNX leaves repeated
  indices undefined, so each update gets its own lane.
"""

from __future__ import annotations

import math

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.kernels._elementwise import layout_table, strided_offset
from hologram.onnx.ops._index_kernels import (
    BLOCK,
    collapse,
    contiguous_strides,
    copy_strided,
    int64_table,
    normalize_axis,
    onnx_nd_offset,
    onnx_wrapped_index,
)

REDUCTIONS = {"none": 0, "add": 1, "mul": 2, "min": 3, "max": 4}
"""The `reduction` attribute's values, as the kernels' `reduction` argument (a runtime value:
one compiled kernel serves every reduction)."""


@hg.func
def onnx_scatter_combine(old, new, reduction):
    """The element after update `new` meets `old` under `reduction`."""
    if reduction == 1:
        return old + new
    elif reduction == 2:
        return old * new
    elif reduction == 3:
        return min(old, new)
    elif reduction == 4:
        return max(old, new)
    else:
        return new


@hg.kernel
def onnx_scatter_elements(
    indices: hg.Array,
    updates: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    layout: hg.Array[hg.uint32],
    length: hg.uint32,
    inner: hg.uint32,
    axis_size: hg.int64,
    axis_stride: hg.int64,
    reduction: hg.int32,
    rank: hg.Const[int] = 1,
):
    """Lane `c < n` applies, in order, the `length` updates of run `c` along the axis (the
    updates as `(outer, length, inner)` at `(c // inner, t, c % inner)`); `layout` gives the
    run's offset in `out` off the axis."""
    c = hg.uint32(hg.global_id())
    if c < n:
        base = hg.int64(strided_offset(c, layout, rank, 0))
        outer = c // inner
        first = hg.int64(outer) * length * inner + (c - outer * inner)
        for t in range(length):
            u = first + t * inner
            o = base + onnx_wrapped_index(indices[u], axis_size) * axis_stride
            out[o] = onnx_scatter_combine(out[o], updates[u], reduction)


@hg.kernel
def onnx_scatter_nd(
    indices: hg.Array,
    updates: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    rows: hg.uint32,
    rows_per_lane: hg.uint32,
    inner: hg.uint32,
    depth: hg.uint32,
    table: hg.Array[hg.int64],
    reduction: hg.int32,
):
    """Lane `l < n` applies element `l % inner` of index rows `[g * rows_per_lane, (g + 1) *
    rows_per_lane)`, `g = l // inner`, in order (`updates` as `(rows, inner)`)."""
    lane = hg.uint32(hg.global_id())
    if lane < n:
        group = lane // inner
        j = lane - group * inner
        start = group * rows_per_lane
        for r in range(start, min(start + rows_per_lane, rows)):
            o = onnx_nd_offset(indices, r, depth, table) + j
            out[o] = onnx_scatter_combine(out[o], updates[hg.int64(r) * inner + j], reduction)


def reduction_of(ctx: OpContext) -> int:
    """The node's `reduction` attribute as the kernels' `reduction` argument."""
    name = ctx.attr("reduction", "none")
    name = name.decode() if isinstance(name, bytes) else name
    if name not in REDUCTIONS:
        raise ctx.error(f"unknown reduction {name!r}")
    return REDUCTIONS[name]


def scatter_elements(ctx: OpContext, reduction: int) -> None:
    """Lower ScatterElements (and the old Scatter): data, indices, updates; `axis`."""
    data, indices, updates = ctx.input(0), ctx.input(1), ctx.input(2)
    axis = normalize_axis(ctx, ctx.attr("axis", 0), data.rank)
    if indices.shape != updates.shape or indices.rank != data.rank:
        raise ctx.error(
            f"indices {indices.shape} and updates {updates.shape} must match "
            f"and have the data's rank {data.rank}"
        )
    out = ctx.output(0, data.shape, data.elem)
    copy_strided(ctx, data, out, data.shape, contiguous_strides(data.shape))
    if indices.size == 0:
        return
    if data.shape[axis] == 0:
        raise ctx.error("scatters into an axis of size 0")
    strides = contiguous_strides(data.shape)
    runs = [1 if d == axis else size for d, size in enumerate(indices.shape)]
    dims, (view,) = collapse(runs, [strides])
    table = ctx.constant(layout_table(dims, [view]), types.UINT32)
    count = indices.size // indices.shape[axis]
    inner = contiguous_strides(indices.shape)[axis]
    length = indices.shape[axis]
    args = [indices, updates, out, count, table, length, inner, data.shape[axis], strides[axis]]
    args += [reduction, len(dims)]
    ctx.launch(onnx_scatter_elements, hg.blocks(count, BLOCK), BLOCK, args)


def scatter_nd(ctx: OpContext, reduction: int) -> None:
    """Lower ScatterND: data, indices (rows of `depth` entries), updates."""
    data, indices, updates = ctx.input(0), ctx.input(1), ctx.input(2)
    if indices.rank < 1 or indices.shape[-1] > data.rank:
        raise ctx.error(f"indices {indices.shape} do not address data of rank {data.rank}")
    depth = indices.shape[-1]
    expected = (*indices.shape[:-1], *data.shape[depth:])
    if updates.shape != expected:
        raise ctx.error(f"updates have shape {updates.shape}, expected {expected}")
    out = ctx.output(0, data.shape, data.elem)
    strides = contiguous_strides(data.shape)
    copy_strided(ctx, data, out, data.shape, strides)
    if updates.size == 0:
        return
    rows = math.prod(indices.shape[:-1])
    inner = math.prod(data.shape[depth:])
    table = int64_table(ctx, [*data.shape[:depth], *strides[:depth]])
    rows_per_lane = 1 if reduction == REDUCTIONS["none"] else rows
    lanes = inner * ((rows + rows_per_lane - 1) // rows_per_lane)
    args = [indices, updates, out, lanes, rows, rows_per_lane, inner, depth, table, reduction]
    ctx.launch(onnx_scatter_nd, hg.blocks(lanes, BLOCK), BLOCK, args)
