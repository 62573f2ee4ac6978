"""matmul: `c[i] = op(a[i]) @ op(b[i])` for each of `batch` matrices, on the MATMUL intrinsic.

`a` holds `batch` row-major m x k matrices (k x m when `trans_a`), `b` holds k x n ones
(n x k when `trans_b`) and `c` receives the m x n products, all packed one after another.
The sizes are compile-time constants (the intrinsic's attributes), so each shape is its own
program; every backend maps it to its best library (BLAS on the cpu).
"""

import hologram as hg

SQUARE_64 = {"m": 64, "n": 64, "k": 64}


@hg.kernel(signatures=[{"a": dt, "b": dt, "c": dt, **SQUARE_64} for dt in ("f32", "f64")])
def matmul(
    a: hg.Array,
    b: hg.Array,
    c: hg.Array,
    m: hg.Const[int],
    n: hg.Const[int],
    k: hg.Const[int],
    batch: hg.Const[int] = 1,
    trans_a: hg.Const[bool] = False,
    trans_b: hg.Const[bool] = False,
):
    """c = op(a) @ op(b), batched."""
    hg.matmul(a, b, c, m, n, k, batch, trans_a, trans_b)
