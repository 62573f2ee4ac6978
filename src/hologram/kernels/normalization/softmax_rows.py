"""softmax_rows: the softmax of contiguous rows, optionally of `x * scale + mask`, one lane a row.

The attention scores of a transformer are rows of a few dozen to a few thousand elements,
scaled and masked before their softmax. One lane takes one row through five short passes,
each a plain loop over contiguous elements (no division, no call): scale and mask into `out`,
the row maximum (`row_max`, eight partial results), the exponentials in place, their sum
(`fold`, eight partial sums) and the division. The elementwise passes run as vector code; the
maximum and the sum stay scalar chains (the compiled code may not reorder float operations),
which is why they keep eight each. The row stays in the first-level cache between passes, so
memory sees it once in and once out.
"""

import hologram as hg
from hologram.kernels.reduce._fold import SUM, fold

NO_SCALE = 0
MULTIPLY = 1
DIVIDE = 2


@hg.func
def row_offset(r, table, rank):
    """The element offset of row `r` in a tensor broadcast over rows: `table` holds the
    sizes of the `rank` row dimensions, then the tensor's strides along them (0 where it
    broadcasts)."""
    offset = hg.int64(0)
    rest = hg.int64(r)
    for d in range(rank - 1, -1, -1):
        size = table[d]
        offset += (rest % size) * table[rank + d]
        rest = rest // size
    return offset


@hg.func
def row_max(x, first, count, compute):
    """The largest of the `count` >= 1 elements of `x` from `first`, by plain compares.

    A NaN may be passed over here, but it makes its own exponential NaN, and so the sum and
    the whole row, as a NaN maximum would: the compares need no NaN test, which made the
    eight chains of `fold`'s MAX twice as long.
    """
    t0 = compute(x[first])
    t1 = t0
    t2 = t0
    t3 = t0
    t4 = t0
    t5 = t0
    t6 = t0
    t7 = t0
    groups = count // 8
    for g in range(groups):
        p = first + g * 8
        t0 = hg.select(x[p] > t0, x[p], t0)
        t1 = hg.select(x[p + 1] > t1, x[p + 1], t1)
        t2 = hg.select(x[p + 2] > t2, x[p + 2], t2)
        t3 = hg.select(x[p + 3] > t3, x[p + 3], t3)
        t4 = hg.select(x[p + 4] > t4, x[p + 4], t4)
        t5 = hg.select(x[p + 5] > t5, x[p + 5], t5)
        t6 = hg.select(x[p + 6] > t6, x[p + 6], t6)
        t7 = hg.select(x[p + 7] > t7, x[p + 7], t7)
    for k in range(groups * 8, count):
        t0 = hg.select(x[first + k] > t0, x[first + k], t0)
    t0 = hg.select(t1 > t0, t1, t0)
    t2 = hg.select(t3 > t2, t3, t2)
    t4 = hg.select(t5 > t4, t5, t4)
    t6 = hg.select(t7 > t6, t7, t6)
    t0 = hg.select(t2 > t0, t2, t0)
    t4 = hg.select(t6 > t4, t6, t4)
    return hg.select(t4 > t0, t4, t0)


@hg.kernel(
    signatures=[
        {"x": hg.float32, "out": hg.float32, "mask": hg.float32},
        {"x": hg.float64, "out": hg.float64, "mask": hg.float64},
    ]
)
def softmax_rows(
    x: hg.Array,
    out: hg.Array,
    mask: hg.Array,
    mask_table: hg.Array[hg.int64],
    rows: hg.uint32,
    cols: hg.uint32,
    scale: hg.float64,
    scaling: hg.Const[int] = NO_SCALE,
    mask_rank: hg.Const[int] = 0,
    mask_cols: hg.Const[bool] = True,
    in_place: hg.Const[bool] = False,
):
    """Lane `r < rows` writes the softmax of row `r` (elements `r * cols` to `r * cols + cols
    - 1`) of `x * scale` (`scaling` MULTIPLY), `x / scale` (DIVIDE) or `x` (NO_SCALE), plus
    the mask when `mask_rank > 0`, in the dtype of `out` (which may be `x`).

    The mask is read at `row_offset(r, mask_table, mask_rank)`, plus the column when
    `mask_cols` (else it is one value per row). `scale` holds a value of `out`'s dtype.
    With `in_place` (`x` is `out`), the row is read through `out`: one array read and written
    at the same index keeps the loop vectorised, where two names for one buffer would fail the
    compiled loop's overlap check at run time and fall back to scalar code.
    """
    r = hg.uint32(hg.global_id())
    if r < rows and cols > 0:
        compute = out.dtype
        first = hg.int64(r) * cols
        count = hg.int64(cols)
        factor = compute(scale)
        at = hg.int64(0)
        if mask_rank > 0:
            at = row_offset(r, mask_table, mask_rank)
        for c in range(count):
            v = compute(out[first + c] if in_place else x[first + c])
            if scaling == MULTIPLY:
                v = v * factor
            elif scaling == DIVIDE:
                v = v / factor
            if mask_rank > 0:
                v = v + compute(mask[at + c] if mask_cols else mask[at])
            out[first + c] = v
        top = row_max(out, first, count, compute)
        for c in range(count):
            out[first + c] = hg.exp(out[first + c] - top)
        inverse = 1.0 / fold(out, first, cols, hg.int64(1), 0, compute, SUM)
        for c in range(count):
            out[first + c] = out[first + c] * inverse
