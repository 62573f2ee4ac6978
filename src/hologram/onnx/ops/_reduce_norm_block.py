"""Row normalisation with one block per row, for long rows.

The lanes of a block stride over the row (adjacent lanes read adjacent elements), each keeping
four partial sums a block's width apart so that four loads are in flight; a block reduction
combines them into the mean, then the same again for the centred squares, and every lane
writes its own elements. `_reduce_norm` describes the rows and picks this form for rows long
enough to fill a block; shorter rows keep one lane per row.
"""

from __future__ import annotations

import hologram as hg


@hg.func
def strided_sum(x, first, r, lane, width, center, compute, squares):
    """This lane's share of the sum of `x[first + k]` (with `squares`, of `(x - center)**2`)
    over `k < r` with `k % width == lane`, in four partials."""
    t0 = compute(0)
    t1 = t0
    t2 = t0
    t3 = t0
    k = hg.int64(lane)
    stop = hg.int64(r)
    step = hg.int64(width)
    while k + 3 * step < stop:
        p = first + k
        v0 = compute(x[p]) - center
        v1 = compute(x[p + step]) - center
        v2 = compute(x[p + 2 * step]) - center
        v3 = compute(x[p + 3 * step]) - center
        if squares:
            v0 = v0 * v0
            v1 = v1 * v1
            v2 = v2 * v2
            v3 = v3 * v3
        t0 += v0
        t1 += v1
        t2 += v2
        t3 += v3
        k += 4 * step
    while k < stop:
        v = compute(x[first + k]) - center
        if squares:
            v = v * v
        t0 += v
        k += step
    return (t0 + t1) + (t2 + t3)


@hg.kernel
def onnx_normalize_rows_block(
    x: hg.Array,
    scale: hg.Array,
    bias: hg.Array,
    out: hg.Array,
    mean_out: hg.Array,
    rstd_out: hg.Array,
    r: hg.uint32,
    groups: hg.uint32,
    per_group: hg.uint32,
    spatial: hg.uint32,
    eps: hg.Scalar,
    compute: hg.Const[hg.dtype],
    centred: hg.Const[bool],
    per_element: hg.Const[bool],
    has_bias: hg.Const[bool],
    stats: hg.Const[bool],
):
    """Block `j` normalises row `j` as `onnx_normalize_rows` lane `j` does (same arguments
    but the row count, which is the grid)."""
    j = hg.uint32(hg.block_id())
    lane = hg.uint32(hg.lane_id())
    width = hg.uint32(hg.block_dim())
    first = hg.int64(j) * r
    count = compute(r)
    mean = compute(0)
    if centred:
        mean = hg.block_sum(strided_sum(x, first, r, lane, width, mean, compute, False)) / count
    squares = hg.block_sum(strided_sum(x, first, r, lane, width, mean, compute, True))
    rstd = 1.0 / hg.sqrt(squares / count + compute(eps))
    if stats and lane == 0:
        mean_out[j] = mean
        rstd_out[j] = rstd
    channel = (j % groups) * per_group
    k = hg.int64(lane)
    while k < hg.int64(r):
        if per_element:
            y = (compute(x[first + k]) - mean) * rstd * compute(scale[k])
            if has_bias:
                y += compute(bias[k])
        else:
            c = channel + hg.uint32(k) // spatial
            factor = rstd * compute(scale[c])
            y = (compute(x[first + k]) - mean) * factor
            if has_bias:
                y += compute(bias[c])
        out[first + k] = y
        k += hg.int64(width)
