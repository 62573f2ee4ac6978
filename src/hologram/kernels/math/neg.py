"""neg: `out = -x` elementwise (see kernels/_elementwise.py)."""

import hologram as hg
from hologram.kernels._elementwise import FULL, UNARY_SIGNATURES, input_index


@hg.func
def neg_value(x):
    """-x (unsigned integers wrap)."""
    return -x


@hg.kernel(signatures=UNARY_SIGNATURES)
def neg(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    layout: hg.Array[hg.uint32],
    compute: hg.Const[hg.dtype],
    x_read: hg.Const[int] = FULL,
    rank: hg.Const[int] = 0,
):
    """out[i] = -x for i < n, computed in `compute`."""
    i = hg.uint32(hg.global_id())
    if i < n:
        j = input_index(i, layout, x_read, rank, 0)
        out[i] = neg_value(compute(x[j]))
