"""mean: each chunk of each row of `x` viewed as `(outer, r, inner)` summed and divided."""

import hologram as hg
from hologram.kernels.reduce._fold import MEAN, reduce_chunk


@hg.kernel(
    signatures=[
        {"x": hg.float32, "out": hg.float32, "count": hg.float32, "acc": hg.float32},
        {"x": hg.float32, "out": hg.float32, "count": hg.float32, "acc": hg.float32,
         "columns": True},
        {"x": hg.float64, "out": hg.float64, "count": hg.float64, "acc": hg.float64},
    ]
)  # fmt: skip
def mean(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    r: hg.uint32,
    inner: hg.uint32,
    chunk: hg.uint32,
    chunks: hg.uint32,
    count: hg.Scalar,
    acc: hg.Const[hg.dtype],
    columns: hg.Const[bool] = False,
):
    """As `reduce/sum` (the lanes, chunks and `columns` mode are the same), with each sum
    divided by `count` (in `acc`): the mean when `count` is the number of elements reduced,
    which may span the chunks of earlier `reduce/sum` passes."""
    j = hg.uint32(hg.global_id())
    if j < n:
        reduce_chunk(x, out, j, r, inner, chunk, chunks, count, acc, MEAN, columns)
