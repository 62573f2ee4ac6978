"""gelu: `out = 0.5 * x * (1 + erf(x / sqrt(2)))` elementwise (see kernels/_elementwise.py)."""

import hologram as hg
from hologram.kernels._elementwise import (
    FULL,
    UNARY_FLOAT_SIGNATURES,
    input_index,
    lane_row,
    lane_rows,
    output_index,
)


@hg.func
def gelu_value(x):
    """GELU in its exact form, 0.5 * x * (1 + erf(x / sqrt(2)))."""
    # sqrt(0.5) folds in x's own precision (a bare literal would be a float32 constant).
    return x * 0.5 * (hg.erf(x * hg.sqrt(x.dtype(0.5))) + 1)


@hg.kernel(signatures=UNARY_FLOAT_SIGNATURES)
def gelu(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    layout: hg.Array[hg.uint32],
    compute: hg.Const[hg.dtype],
    x_read: hg.Const[int] = FULL,
    rank: hg.Const[int] = 0,
):
    """out[i] = gelu(x) for i < n, computed in `compute`."""
    col = hg.uint32(hg.global_id())
    if col < n:
        row = lane_row(rank)
        if row < lane_rows(layout, rank):
            i = output_index(col, row, n, rank)
            j = input_index(i, col, row, layout, x_read, rank, 0)
            out[i] = gelu_value(compute(x[j]))
