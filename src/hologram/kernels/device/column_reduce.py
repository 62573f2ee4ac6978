"""column_reduce: a lane per column, adjacent lanes over the contiguous inner axis.

The device counterpart of `reduce/sum`, `min`, `max` and `mean` for the rows of `x` viewed as
`(outer, r, inner)` with `inner > 1` (a leading or middle axis of a row-major array) where
the columns alone fill a GPU or the rows are few: the 32 lanes of a warp read 32 adjacent
elements at every step. Longer columns over fewer of them go to `tile_reduce`, whose lanes
share each column's rows. `hologram.ops` picks it for backends that are not the host.
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
    count: hg.Scalar,
    acc: hg.Const[hg.dtype],
    op: hg.Const[int] = SUM,
):
    """Lane `j = o * inner + i < n` writes to `out[j]` the `op` (SUM, MIN, MAX or MEAN, which
    sums and divides by `count`), combined in `acc`, of column `(o, i)` of `x` viewed as
    `(outer, r, inner)`: its `r` elements `inner` apart."""
    j = hg.uint32(hg.global_id())
    if j < n:
        o = j // inner
        first = hg.int64(o) * r * hg.int64(inner) + (j - o * inner)
        value = fold(x, first, r, hg.int64(inner), 0, acc, op)
        out[j] = finish(value, acc(count), op)
