"""scale: `out = alpha * x` elementwise, with broadcasting (see kernels/_elementwise.py)."""

import hologram as hg
from hologram.kernels._elementwise import FULL, input_index, lane_row, lane_rows, output_index


@hg.func
def scale_value(x, alpha):
    """x * alpha."""
    return x * alpha


@hg.kernel(signatures=[{"x": dt, "out": dt, "alpha": dt, "compute": dt} for dt in ("f32", "f64")])
def scale(
    x: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    layout: hg.Array[hg.uint32],
    alpha: hg.Scalar,
    compute: hg.Const[hg.dtype],
    x_read: hg.Const[int] = FULL,
    rank: hg.Const[int] = 0,
):
    """out[i] = alpha * x for i < n, computed in `compute`."""
    col = hg.uint32(hg.global_id())
    if col < n:
        row = lane_row(rank)
        if row < lane_rows(layout, rank):
            i = output_index(col, row, n, rank)
            j = input_index(i, col, row, layout, x_read, rank, 0)
            out[i] = scale_value(compute(x[j]), compute(alpha))
