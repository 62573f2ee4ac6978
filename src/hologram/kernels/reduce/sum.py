"""sum: the sum of each chunk of each row of `x` viewed as `(outer, r, inner)`."""

import hologram as hg
from hologram.kernels.reduce._fold import SUM, reduce_chunk


@hg.kernel(
    signatures=[
        {"x": hg.float32, "out": hg.float32, "acc": hg.float32},
        {"x": hg.float32, "out": hg.float32, "acc": hg.float32, "columns": True},
        {"x": hg.float64, "out": hg.float64, "acc": hg.float64},
        {"x": hg.int32, "out": hg.int64, "acc": hg.int64},
    ]
)
def sum(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    r: hg.uint32,
    inner: hg.uint32,
    chunk: hg.uint32,
    chunks: hg.uint32,
    acc: hg.Const[hg.dtype],
    columns: hg.Const[bool] = False,
):
    """Each lane `j < n` writes one sum, added up in `acc`, to `out` viewed as
    `(outer, chunks, inner)`: that of chunk `c` (elements `[c * chunk, (c + 1) * chunk)`,
    clipped to `r`) of row `(o, i)`, for `j = (o * chunks + c) * inner + i`. With `columns`,
    lane `j = (o * chunks + c) * ceil(inner / 8) + g` does rows `(o, 8g)` to `(o, 8g + 7)`
    (fewer in the last group) at once. One chunk per row (`chunks = 1`, `chunk = r`) reduces
    whole rows; more split long rows over more lanes, for a second pass to combine."""
    j = hg.uint32(hg.global_id())
    if j < n:
        reduce_chunk(x, out, j, r, inner, chunk, chunks, 1, acc, SUM, columns)
