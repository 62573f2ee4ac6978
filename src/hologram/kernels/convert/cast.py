"""cast: copy an array into the output's dtype and shape, broadcasting as it goes.

What materialises an operand in a new layout: each element is converted once, straight into
the output dtype (see the ISA's `cvt` for rounding and saturation, and kernels/_elementwise.py
for the parameters).
"""

import hologram as hg
from hologram.kernels._elementwise import FULL, input_index, lane_row, lane_rows, output_index


@hg.kernel(
    signatures=[
        {"x": src, "out": dst}
        for src, dst in [("f16", "f32"), ("bf16", "f32"), ("f32", "f16"), ("i32", "f32")]
    ]
)
def cast(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    layout: hg.Array[hg.uint32],
    x_read: hg.Const[int] = FULL,
    rank: hg.Const[int] = 0,
):
    """out[i] = out.dtype(x) for i < n."""
    col = hg.uint32(hg.global_id())
    if col < n:
        row = lane_row(rank)
        if row < lane_rows(layout, rank):
            i = output_index(col, row, n, rank)
            j = input_index(i, col, row, layout, x_read, rank, 0)
            out[i] = out.dtype(x[j])
