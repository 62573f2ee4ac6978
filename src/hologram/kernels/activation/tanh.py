"""tanh: `out = tanh(x)` elementwise (see kernels/_elementwise.py)."""

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
def tanh_value(x):
    """The hyperbolic tangent."""
    return hg.tanh(x)


@hg.kernel(signatures=UNARY_FLOAT_SIGNATURES)
def tanh(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    layout: hg.Array[hg.uint32],
    compute: hg.Const[hg.dtype],
    x_read: hg.Const[int] = FULL,
    rank: hg.Const[int] = 0,
):
    """out[i] = tanh(x) for i < n, computed in `compute`."""
    col = hg.uint32(hg.global_id())
    if col < n:
        row = lane_row(rank)
        if row < lane_rows(layout, rank):
            i = output_index(col, row, n, rank)
            j = input_index(i, col, row, layout, x_read, rank, 0)
            out[i] = tanh_value(compute(x[j]))
