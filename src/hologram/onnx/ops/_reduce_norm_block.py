"""Row normalisation with one block per row, for long rows.

The lanes of a block stride over the row (adjacent lanes read adjacent elements), each
folding its elements with `reduce/_fold.fold` (several partial sums, so several loads in
flight); a block reduction combines them into the mean, then the same again for the centred
squares, and every lane writes its own elements. `_reduce_norm` describes the rows and picks
this form for rows long enough to fill a block; shorter rows keep one lane per row.
"""

from __future__ import annotations

import hologram as hg
from hologram.kernels.reduce._fold import SQUARES, SUM, fold


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
    # This lane's elements: every `width`-th of the row from `lane` (rows are at least a block).
    start = first + hg.int64(lane)
    mine = (r - lane + width - 1) // width
    step = hg.int64(width)
    mean = compute(0)
    if centred:
        mean = hg.block_sum(fold(x, start, mine, step, 0, compute, SUM)) / count
    squares = hg.block_sum(fold(x, start, mine, step, mean, compute, SQUARES))
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
