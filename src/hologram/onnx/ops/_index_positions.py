"""Where the non-zero elements of a tensor are: the first step of NonZero and Compress.

Their output shapes depend on the data, so the count is computed first and read back (a
guard of the plan) before the outputs are declared. The elements are split into chunks: one
lane counts the non-zeros of each chunk, one lane turns the counts into each chunk's first
output position (and the total), and one lane a chunk writes the positions of its non-zeros
there, in order.
"""

from __future__ import annotations

import hologram as hg
from hologram.compiler import types
from hologram.compiler.context import OpContext, TensorRef
from hologram.onnx.ops._index_kernels import BLOCK

CHUNK = 256
"""Elements a lane scans."""


@hg.kernel
def onnx_count_nonzero(
    x: hg.Array, counts: hg.Array[hg.int64], n: hg.uint32, chunk: hg.uint32, chunks: hg.uint32
):
    """Lane `c < chunks` counts the non-zero elements among `x[c * chunk:(c + 1) * chunk]`
    (clipped to `n`)."""
    c = hg.uint32(hg.global_id())
    if c < chunks:
        start = c * chunk
        found = hg.int64(0)
        for e in range(start, min(start + chunk, n)):
            if x[e] != 0:
                found += 1
        counts[c] = found


@hg.kernel
def onnx_offsets_of_counts(
    counts: hg.Array[hg.int64], total: hg.Array[hg.int64], chunks: hg.uint32
):
    """One lane replaces `counts` by their exclusive running sum and writes the sum."""
    if hg.global_id() == 0:
        running = hg.int64(0)
        for c in range(chunks):
            found = counts[c]
            counts[c] = running
            running += found
        total[0] = running


@hg.kernel
def onnx_nonzero_positions(
    x: hg.Array,
    offsets: hg.Array[hg.int64],
    positions: hg.Array[hg.int64],
    n: hg.uint32,
    chunk: hg.uint32,
    chunks: hg.uint32,
):
    """Lane `c < chunks` writes the flat positions of chunk `c`'s non-zero elements from
    `positions[offsets[c]]` on."""
    c = hg.uint32(hg.global_id())
    if c < chunks:
        start = c * chunk
        at = offsets[c]
        for e in range(start, min(start + chunk, n)):
            if x[e] != 0:
                positions[at] = hg.int64(e)
                at += 1


def nonzero_positions(ctx: OpContext, x: TensorRef, n: int) -> tuple[TensorRef | None, int]:
    """The flat positions (int64) of the non-zero elements among the first `n` of `x`, in
    order, and their count (None and 0 when there are none)."""
    if n == 0:
        return None, 0
    chunks = (n + CHUNK - 1) // CHUNK
    counts = ctx.scratch([chunks], types.INT64)
    total = ctx.scratch([1], types.INT64)
    grid = hg.blocks(chunks, BLOCK)
    ctx.launch(onnx_count_nonzero, grid, BLOCK, [x, counts, n, CHUNK, chunks])
    ctx.launch(onnx_offsets_of_counts, 1, 1, [counts, total, chunks])
    count = int(ctx.value(total).reshape(-1)[0])
    if count == 0:
        return None, 0
    positions = ctx.scratch([count], types.INT64)
    ctx.launch(onnx_nonzero_positions, grid, BLOCK, [x, counts, positions, n, CHUNK, chunks])
    return positions, count
