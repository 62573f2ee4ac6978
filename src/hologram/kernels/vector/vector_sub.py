"""vector_sub: `out = a - b` elementwise, with broadcasting (see kernels/_elementwise.py)."""

import hologram as hg
from hologram.kernels._elementwise import (
    BINARY_SIGNATURES,
    FULL,
    input_index,
    lane_row,
    lane_rows,
    output_index,
)


@hg.func
def sub_value(a, b):
    """a - b."""
    return a - b


@hg.kernel(signatures=BINARY_SIGNATURES)
def vector_sub(
    a: hg.Array,
    b: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    layout: hg.Array[hg.uint32],
    compute: hg.Const[hg.dtype],
    a_read: hg.Const[int] = FULL,
    b_read: hg.Const[int] = FULL,
    rank: hg.Const[int] = 0,
):
    """out[i] = a - b for i < n, computed in `compute`."""
    col = hg.uint32(hg.global_id())
    if col < n:
        row = lane_row(rank)
        if row < lane_rows(layout, rank):
            i = output_index(col, row, n, rank)
            j = input_index(i, col, row, layout, a_read, rank, 0)
            k = input_index(i, col, row, layout, b_read, rank, 1)
            out[i] = sub_value(compute(a[j]), compute(b[k]))
