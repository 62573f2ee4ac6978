"""tile_reduce: a block per tile of adjacent columns, its lanes splitting the rows, combined
in shared memory.

The device kernel for long columns (`x` viewed as `(outer, r, inner)`, `inner > 1`, reduced
over `r`): a block takes `width` adjacent columns and a chunk of rows, and its lanes stand
`depth = LANES // width` deep over each column, so that the lanes of a warp read adjacent
elements (rows of `width` columns one after the other) and every lane folds a long run with
many loads in flight. The `depth` results of each column are then combined in shared memory
in two rounds, always in the same order (no atomics: results are the same run after run):
each block writes one result per column, `depth` times fewer than a lane per column would.

`hologram.ops` launches it twice for long columns over few of them: once over chunks of rows
(`width` as wide as the block allows), then once more over the chunks' results (a `width`
that leaves every lane a short run), so that a reduction takes two launches whatever `inner`
is.
"""

import hologram as hg
from hologram.kernels.reduce._fold import DEVICE_SIGNATURES, SUM, combine, finish, fold

LANES = 256
"""The lanes of a block it is launched with (its shared memory holds one result each)."""
STRIDE = 16
"""The lanes of a column that hold results after the first round of combining them."""


@hg.kernel(signatures=DEVICE_SIGNATURES)
def tile_reduce(
    x: hg.Array,
    out: hg.Array,
    r: hg.uint32,
    inner: hg.uint32,
    chunk: hg.uint32,
    chunks: hg.uint32,
    width: hg.uint32,
    count: hg.Scalar,
    acc: hg.Const[hg.dtype],
    op: hg.Const[int] = SUM,
):
    """Block `b = (o * chunks + c) * groups + t`, for `groups = ceil(inner / width)`, writes
    to `out[o, c, i]` (`out` viewed as `(outer, chunks, inner)`), for each column
    `i = t * width + g < inner` with `g < width`, the `op` (SUM, MIN, MAX or MEAN, which sums
    and divides by `count`), combined in `acc`, of chunk `c` of column `(o, i)` of `x` viewed
    as `(outer, r, inner)`: its rows `[c * chunk, (c + 1) * chunk)`, clipped to `r`. Lane
    `q * width + g` (for `q < depth = LANES // width`) folds the rows `q, q + depth, ...` of
    the chunk, then the `depth` lanes of column `g` combine their results. Launched with
    `LANES` lanes a block."""
    partial = hg.shared(LANES, acc)
    b = hg.uint32(hg.block_id())
    lane = hg.uint32(hg.lane_id())
    depth = LANES // width
    groups = (inner + width - 1) // width
    oc = b // groups
    t = b - oc * groups
    o = oc // chunks
    c = oc - o * chunks
    q = lane // width
    i = (t * width) + (lane - q * width)
    start = c * chunk
    rows = min(start + chunk, r) - min(start, r)
    mine = q < depth and i < inner and q < rows
    value = acc(0)
    if mine:
        first = (hg.int64(o) * r + start + q) * hg.int64(inner) + i
        runs = (rows - q + depth - 1) // depth
        value = fold(x, first, runs, hg.int64(depth) * inner, 0, acc, op)
    partial[lane] = value
    # The `span` results of each column combine in two rounds, in a fixed order: lanes
    # `q < 16` take in the slots `q + 16, q + 32, ...`, then lane 0 the slots 1 to 15. Only
    # slots that had rows are read (MIN and MAX have no identity to pad with), and the first
    # round reads no slot that it writes, so a barrier before each round suffices; both stand
    # at the top level, where the CPU backend runs the lanes between them as plain loops.
    span = min(depth, rows)
    hg.barrier()
    if mine and q < STRIDE:
        for k in range(q + STRIDE, span, STRIDE):
            value = combine(value, partial[lane + (k - q) * width], op)
        partial[lane] = value
    hg.barrier()
    if mine and q == 0:
        for k in range(1, min(span, STRIDE)):
            value = combine(value, partial[lane + k * width], op)
    if q == 0 and i < inner:
        out[hg.int64(oc) * inner + i] = finish(value, acc(count), op)
