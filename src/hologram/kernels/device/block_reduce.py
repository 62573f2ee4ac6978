"""block_reduce: one block per chunk of a contiguous row, combined with a block reduction.

The device counterpart of `reduce/sum`, `min`, `max` and `mean` for rows whose elements lie
side by side (`inner = 1`): a GPU wants adjacent lanes reading adjacent elements, and many
loads in flight per lane, where a CPU wants one lane per row. `hologram.ops` picks it for
backends that are not the host.
"""

import hologram as hg
from hologram.kernels.reduce._fold import DEVICE_SIGNATURES, MAX, MIN, SUM, combine, finish


@hg.kernel(signatures=DEVICE_SIGNATURES)
def block_reduce(
    x: hg.Array,
    out: hg.Array,
    r: hg.uint32,
    chunk: hg.uint32,
    chunks: hg.uint32,
    count: hg.Scalar,
    acc: hg.Const[hg.dtype],
    op: hg.Const[int] = SUM,
):
    """Block `b = o * chunks + c` writes to `out[b]` the `op` (SUM, MIN, MAX or MEAN, which
    sums and divides by `count`) of chunk `c` (elements `[c * chunk, (c + 1) * chunk)`, clipped
    to `r`) of row `o` of `x` viewed as `(outer, r)`, combined in `acc`. Each lane keeps four
    independent partial results over elements a block's width apart, so that four loads are
    in flight, then the block combines its lanes' results."""
    b = hg.uint32(hg.block_id())
    lane = hg.uint32(hg.lane_id())
    width = hg.uint32(hg.block_dim())
    o = b // chunks
    c = b - o * chunks
    start = c * chunk
    stop = min(start + chunk, r)
    base = hg.int64(o) * r
    t0 = acc(0)
    # Min and max have no identity: every lane starts from the chunk's first element, which
    # changes neither (a lane with no elements of its own then contributes it harmlessly).
    if (op == MIN or op == MAX) and start < stop:  # noqa: SIM109
        t0 = acc(x[base + start])
    t1 = t0
    t2 = t0
    t3 = t0
    k = start + lane
    while k + 3 * width < stop:
        p = base + k
        t0 = combine(t0, acc(x[p]), op)
        t1 = combine(t1, acc(x[p + width]), op)
        t2 = combine(t2, acc(x[p + 2 * width]), op)
        t3 = combine(t3, acc(x[p + 3 * width]), op)
        k += 4 * width
    while k < stop:
        t0 = combine(t0, acc(x[base + k]), op)
        k += width
    t = combine(combine(t0, t1, op), combine(t2, t3, op), op)
    if op == MIN:
        total = hg.block_min(t)
    elif op == MAX:
        total = hg.block_max(t)
    else:
        total = hg.block_sum(t)
    if lane == 0:
        out[b] = finish(total, count, op)
