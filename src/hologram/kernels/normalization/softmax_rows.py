"""softmax_rows: the softmax of contiguous rows, optionally of `x * scale + mask`, one lane a row.

The attention scores of a transformer are rows of a few dozen to a few thousand elements,
scaled and masked before their softmax. One lane takes one row through five short passes,
each a plain loop over contiguous elements that the CPU runs as vector code (no division, no
call): scale and mask into `out`, the row maximum (`fold`, eight partial results), the
exponentials in place, their sum, and the division. The row stays in the first-level cache
between passes, so memory sees it once in and once out.
"""

import hologram as hg
from hologram.kernels.reduce._fold import MAX, SUM, fold

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
    if r < rows:
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
        top = fold(out, first, cols, hg.int64(1), 0, compute, MAX)
        for c in range(count):
            out[first + c] = hg.exp(out[first + c] - top)
        inverse = 1.0 / fold(out, first, cols, hg.int64(1), 0, compute, SUM)
        for c in range(count):
            out[first + c] = out[first + c] * inverse
