"""axpby: `out = alpha * a + beta * b` elementwise, with broadcasting (the Gemm epilogue).

The parameters follow kernels/_elementwise.py; `alpha` and `beta` are scalars, converted to
`compute`.
"""

import hologram as hg
from hologram.kernels._elementwise import FULL, input_index, lane_row, lane_rows, output_index


@hg.func
def axpby_value(a, b, alpha, beta):
    """a * alpha + b * beta."""
    return a * alpha + b * beta


@hg.kernel(
    signatures=[
        {"a": dt, "b": dt, "out": dt, "alpha": dt, "beta": dt, "compute": dt}
        for dt in ("f32", "f64")
    ]
)
def axpby(
    a: hg.Array,
    b: hg.Array,
    out: hg.Array,
    n: hg.uint32,
    layout: hg.Array[hg.uint32],
    alpha: hg.Scalar,
    beta: hg.Scalar,
    compute: hg.Const[hg.dtype],
    a_read: hg.Const[int] = FULL,
    b_read: hg.Const[int] = FULL,
    rank: hg.Const[int] = 0,
):
    """out[i] = alpha * a + beta * b for i < n, computed in `compute`."""
    col = hg.uint32(hg.global_id())
    if col < n:
        row = lane_row(rank)
        if row < lane_rows(layout, rank):
            i = output_index(col, row, n, rank)
            j = input_index(i, col, row, layout, a_read, rank, 0)
            k = input_index(i, col, row, layout, b_read, rank, 1)
            out[i] = axpby_value(compute(a[j]), compute(b[k]), compute(alpha), compute(beta))
