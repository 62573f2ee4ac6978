"""vector_div: `out = a / b` elementwise, with broadcasting (see kernels/_elementwise.py).

Integer division truncates toward zero and gives 0 for a zero divisor (the ISA's `div`, as in
C and ONNX), unlike the kernel language's `//`, which floors.
"""

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
def truncating_div(a, b):
    """Signed `a / b` rounded toward zero, 0 when `b` is 0.

    Divides the magnitudes as uint64 (exact for every width, the most negative value
    included) and then applies the sign; the result wraps like the ISA's `div`.
    """
    magnitude_a = hg.uint64(a) if a >= 0 else hg.uint64(0) - hg.uint64(a)
    magnitude_b = hg.uint64(b) if b >= 0 else hg.uint64(0) - hg.uint64(b)
    quotient = a.dtype(magnitude_a // magnitude_b)
    return -quotient if (a < 0) != (b < 0) else quotient


@hg.func
def div_value(a, b):
    """a / b; integers truncate toward zero, and x / 0 is 0 for them."""
    # These tests fold at compile time: a float type keeps 0.5, an unsigned one wraps -1
    # to its maximum (and its floor division is already truncation).
    if a.dtype(0.5) != 0:
        return a / b
    elif a.dtype(-1) > 0:
        return a // b
    else:
        return truncating_div(a, b)


@hg.kernel(signatures=BINARY_SIGNATURES)
def vector_div(
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
    """out[i] = a / b for i < n, computed in `compute`."""
    col = hg.uint32(hg.global_id())
    if col < n:
        row = lane_row(rank)
        if row < lane_rows(layout, rank):
            i = output_index(col, row, n, rank)
            j = input_index(i, col, row, layout, a_read, rank, 0)
            k = input_index(i, col, row, layout, b_read, rank, 1)
            out[i] = div_value(compute(a[j]), compute(b[k]))
