"""Unique: the distinct elements (or slices along an axis) of the input, sorted or in order
of first occurrence, with where each first occurs, where each input item went, and counts.

Items are compared whole (a slice compares lexicographically, in row-major order). Each item
finds its first occurrence by scanning the items before it; then each finds the rank of its
distinct value among the distinct values, by comparing with all of them: quadratic in the
number of items, with one lane an item. The number of distinct values decides the output
shapes, so it is read back (a guard of the plan) before the outputs are declared.
"""

import math

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext
from hologram.onnx.ops._index_kernels import (
    BLOCK,
    contiguous_strides,
    copy_strided,
    gather_axis,
    normalize_axis,
)
from hologram.onnx.registry import onnx_op


@hg.func
def onnx_unique_order(x, a, b, outer, length, inner):
    """-1, 0 or 1 as item `a` of `x` (viewed as `(outer, length, inner)`, items along the
    middle axis) is less than, equal to or greater than item `b`."""
    for o in range(outer):
        base = hg.int64(o) * length * inner
        for k in range(inner):
            left = x[base + a * inner + k]
            right = x[base + b * inner + k]
            if left < right:
                return -1
            if left > right:
                return 1
    return 0


@hg.kernel
def onnx_unique_first(
    x: hg.Array,
    first: hg.Array[hg.int64],
    n: hg.uint32,
    outer: hg.uint32,
    inner: hg.uint32,
):
    """Lane `i < n` writes the first item equal to item `i`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        found = hg.int64(i)
        for j in range(hg.int64(i)):
            if onnx_unique_order(x, j, hg.int64(i), outer, n, inner) == 0:
                found = j
                break
        first[i] = found


@hg.kernel
def onnx_unique_rank(
    x: hg.Array,
    first: hg.Array[hg.int64],
    inverse: hg.Array[hg.int64],
    sources: hg.Array[hg.int64],
    counts: hg.Array[hg.int64],
    total: hg.Array[hg.int64],
    n: hg.uint32,
    outer: hg.uint32,
    inner: hg.uint32,
    ordered: hg.int32,
):
    """Lane `i < n` writes the rank `r` of its distinct value (by value when `ordered` is not
    0, else by first occurrence) to `inverse[i]`; the first occurrence also writes itself to
    `sources[r]` and the number of equal items to `counts[r]`; lane 0 writes the number of
    distinct values to `total[0]`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        mine = first[i]
        rank = hg.int64(0)
        equal = hg.int64(0)
        distinct = hg.int64(0)
        for j in range(hg.int64(n)):
            other = first[j]
            if other == j:
                distinct += 1
                if ordered != 0:
                    if onnx_unique_order(x, j, mine, outer, n, inner) < 0:
                        rank += 1
                elif j < mine:
                    rank += 1
            if other == mine:
                equal += 1
        inverse[i] = rank
        if mine == i:
            sources[rank] = mine
            counts[rank] = equal
        if i == 0:
            total[0] = distinct


@onnx_op("Unique", since=11)
def unique(ctx: OpContext) -> None:
    """Outputs: the unique values (flattened without `axis`), then int64 indices of first
    occurrences, inverse indices and counts; `sorted` (default 1) orders them by value."""
    x = ctx.input(0)
    axis = ctx.attr("axis", None)
    if axis is None:
        outer, n, inner = 1, x.size, 1
    else:
        axis = normalize_axis(ctx, axis, x.rank)
        outer, n, inner = math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1 :])
    inverse = (
        ctx.output(2, [n], types.INT64) if ctx.has_output(2) else ctx.scratch([n], types.INT64)
    )
    count = 0
    sources = ctx.scratch([n], types.INT64)
    counts = ctx.scratch([n], types.INT64)
    if n:
        first = ctx.scratch([n], types.INT64)
        total = ctx.scratch([1], types.INT64)
        grid = hg.blocks(n, BLOCK)
        ctx.launch(onnx_unique_first, grid, BLOCK, [x, first, n, outer, inner])
        ordered = int(ctx.attr("sorted", 1) != 0)
        args = [x, first, inverse, sources, counts, total, n, outer, inner, ordered]
        ctx.launch(onnx_unique_rank, grid, BLOCK, args)
        count = int(ctx.value(total).reshape(-1)[0])
    shape = [count] if axis is None else [*x.shape[:axis], count, *x.shape[axis + 1 :]]
    values = ctx.output(0, shape, x.elem)
    if count:
        gather_axis(ctx, x, sources, values, outer, n, inner, count)
    for i, source in ((1, sources), (3, counts)):
        if ctx.has_output(i):
            out = ctx.output(i, [count], types.INT64)
            if count:
                copy_strided(ctx, source, out, [count], contiguous_strides([count]))
