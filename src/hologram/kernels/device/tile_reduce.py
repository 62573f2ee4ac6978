"""tile_reduce: a block per tile of adjacent columns, its lanes splitting the rows, combined
in shared memory.

The device kernel that combines the partial results of `column_reduce`'s slices: `x` viewed as
`(outer, r, inner)`, `inner > 1`, where `r` is the number of slices (a few to tens of
thousands), reduced over `r` in one pass for every column at once. A block takes `width`
adjacent columns and its lanes stand `depth = LANES // width` deep over each column, so that
the lanes of a warp read adjacent elements (rows of `width` columns one after the other) and
each lane folds only `r / depth` of them. The `depth` results of each column are then combined
in shared memory in two rounds, always in the same order (no atomics: results are the same run
after run). `hologram.ops` picks `width` so that each lane folds few results, down to a single
column a block (256 lanes over one column) for narrow arrays with many slices.

As the big first pass (a block over a contiguous chunk of rows of its columns) it read memory
at under half the rate of `column_reduce`, whose lanes sweep the array together.
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
    width: hg.uint32,
    count: hg.Scalar,
    acc: hg.Const[hg.dtype],
    op: hg.Const[int] = SUM,
):
    """Block `b = o * groups + t`, for `groups = ceil(inner / width)`, writes to
    `out[o, i]` (`out` viewed as `(outer, inner)`), for each column `i = t * width + g <
    inner` with `g < width`, the `op` (SUM, MIN, MAX or MEAN, which sums and divides by
    `count`), combined in `acc`, of the `r` rows of column `(o, i)` of `x` viewed as
    `(outer, r, inner)`. Lane `q * width + g` (for `q < depth = LANES // width`) folds the
    rows `q, q + depth, ...`, then the `depth` lanes of column `g` combine their results.
    Launched with `LANES` lanes a block."""
    partial = hg.shared(LANES, acc)
    b = hg.uint32(hg.block_id())
    lane = hg.uint32(hg.lane_id())
    depth = LANES // width
    groups = (inner + width - 1) // width
    o = b // groups
    t = b - o * groups
    q = lane // width
    i = (t * width) + (lane - q * width)
    mine = q < depth and i < inner and q < r
    value = acc(0)
    if mine:
        first = (hg.int64(o) * r + q) * hg.int64(inner) + i
        runs = (r - q + depth - 1) // depth
        value = fold(x, first, runs, hg.int64(depth) * inner, 0, acc, op)
    partial[lane] = value
    # The `span` results of each column combine in two rounds, in a fixed order: lanes
    # `q < 16` take in the slots `q + 16, q + 32, ...`, then lane 0 the slots 1 to 15. Only
    # slots that had rows are read (MIN and MAX have no identity to pad with), and the first
    # round reads no slot that it writes, so a barrier before each round suffices; both stand
    # at the top level, where the CPU backend runs the lanes between them as plain loops.
    span = min(depth, r)
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
        out[hg.int64(o) * inner + i] = finish(value, acc(count), op)
