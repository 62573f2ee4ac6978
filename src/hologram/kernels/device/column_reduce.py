"""column_reduce: lanes over the contiguous inner axis, each folding an interleaved slice of rows.

The device counterpart of `reduce/sum`, `min`, `max` and `mean` for the rows of `x` viewed as
`(outer, r, inner)` with `inner > 1` (a leading or middle axis of a row-major array): a GPU
wants the 32 lanes of a warp reading 32 adjacent elements, many loads in flight per lane, and
enough lanes to fill it even when `inner` is narrow. Lane `(o, s, i)` folds column `(o, i)`
over the rows `s, s + slices, s + 2 * slices, ...`, so that at every step the lanes of one
`o` read `slices * inner` adjacent elements, whatever `inner` is, and all lanes sweep the
array together. With several slices, one `tile_reduce` pass combines the `slices` results of
every column, always in the same order. `hologram.ops` picks it for backends that are not the
host.
"""

import hologram as hg
from hologram.kernels.reduce._fold import DEVICE_SIGNATURES, SUM, finish, fold


@hg.kernel(signatures=DEVICE_SIGNATURES)
def column_reduce(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    r: hg.uint32,
    inner: hg.uint32,
    slices: hg.uint32,
    count: hg.Scalar,
    acc: hg.Const[hg.dtype],
    op: hg.Const[int] = SUM,
):
    """Lane `j = (o * slices + s) * inner + i < n` writes to `out[j]` (`out` viewed as
    `(outer, slices, inner)`) the `op` (SUM, MIN, MAX or MEAN, which sums and divides by
    `count`), combined in `acc`, of `x[o, k, i]` over the rows `k = s + m * slices < r` of
    `x` viewed as `(outer, r, inner)`. `slices` is at most `r` (at least 1), so that every
    lane has a row: MIN and MAX have no identity. One slice reduces whole columns."""
    j = hg.uint32(hg.global_id())
    if j < n:
        width = slices * inner
        o = j // width
        within = j - o * width
        s = within // inner
        rows = (r - s + slices - 1) // slices
        first = hg.int64(o) * r * hg.int64(inner) + within
        value = fold(x, first, rows, hg.int64(width), 0, acc, op)
        out[j] = finish(value, acc(count), op)
