"""What the elementwise kernels share: how they read broadcast inputs, and their signatures.

Every elementwise kernel (`vector/`, `activation/`, `math/`, `convert/`, `linalg/axpby`,
`linalg/scale`) has one lane per output element and the same parameters, in this order:

    <inputs...>, out, n, layout, <scalars...>, compute, <input>_read..., rank

- `<inputs>`: generic arrays; `out`: the generic output array;
- `n`: the element count of a 1-D launch (`rank` 0), else the length of the output's rows;
- `layout`: a u32 array (`grid_table`): the row count, the outer dimensions' pitches as magic
  numbers that turn divisions into multiplications, and each input's strides; read only by 2-D
  launches, so any u32 array will do at rank 0;
- `<scalars>`: the op's own `hg.Scalar` parameters (e.g. axpby's `alpha`, `beta`);
- `compute`: the dtype the element function runs in (the output's, or f32 for f16/bf16
  outputs); inputs are converted to it on load and the result is rounded once at the store;
- `<input>_read`: how each input is read (Consts): `FULL` reads element `i`, `SCALAR`
  element 0, `STRIDED` the offset that `layout` gives, `ROW` and `LINE` the same offset when
  the input's last stride is 0 or 1; `rank` is the number of collapsed dimensions (0 unless
  some input is read through `layout`).

At rank 0 a launch is 1-D: lane `col = hg.uint32(hg.global_id())` is output element `i`
(u32 like `n`, so that outputs of up to 2**32 - 1 elements index correctly). Otherwise it is
2-D (`grid_shape`): x runs along the last collapsed dimension and y over the rows, so that
`i = row * n + col` and every division of the index (`row_offset`) depends on the row alone;
within a row the lanes read inputs contiguously, or one value (`ROW`). The kernel guards
`col < n`, then `row < lane_rows(...)`, finds each input's element with `input_index`,
converts what it loads to `compute` and calls the op's element func:

    out[i] = f(compute(a[j]), compute(b[k]))

The read modes and rank are compile-time constants, so a contiguous launch is exactly
`out[i] = f(a[i], b[i])` and a broadcast scalar is `f(a[i], b[0])`.
`hologram.ops._broadcast` computes the read modes, the table and the launch's geometry.
`layout_table` and `strided_offset` are the 1-D form of the same indexing, which other kernels
(gathers, scatters, copies) use."""

import math
from collections.abc import Sequence

import numpy as np

import hologram as hg

FULL = 0
"""Read element `i` (the input has the output's shape)."""
SCALAR = 1
"""Read element 0 (one value broadcast everywhere)."""
STRIDED = 2
"""Read at the offset `grid_offset` computes from `layout`."""
ROW = 3
"""STRIDED, with one value per row (stride 0 along the last dimension): the row's offset."""
LINE = 4
"""STRIDED, with each row read contiguously (stride 1 along the last dimension)."""


MAGIC = 3
"""Table entries per collapsed dimension that describe its pitch (see `layout_table`)."""


@hg.func
def magic_quotient(i, layout, at):
    """`i // pitch` for the pitch whose `pitch_magic` words start at `layout[at]`: integer
    division does not vectorise, while this is two 32 x 32 -> 64-bit products and shifts."""
    wide = hg.uint64(i)
    low = (wide * hg.uint64(layout[at])) >> 32
    return hg.uint32((low + wide * hg.uint64(layout[at + 1])) >> layout[at + 2])


@hg.func
def pitch_quotient(i, layout, d):
    """`i // pitch[d]` for the pitches of a `layout_table`."""
    return magic_quotient(i, layout, MAGIC * d)


@hg.func
def strided_offset(i, layout, rank, slot):
    """The element offset of input `slot` for output index `i` (see `layout_table`).

    A sum over the collapsed dimensions of `(i // pitch) * coefficient`: the quotients depend
    on `i` alone, so the inputs of a launch share them. Dimensions 0 to 2 are unrolled; a loop
    takes the rest.
    """
    coefficients = MAGIC * rank + rank * slot
    offset = i * layout[coefficients + rank - 1]
    if rank > 4:
        for d in range(rank - 2, 2, -1):
            offset += pitch_quotient(i, layout, d) * layout[coefficients + d]
    if rank > 3:
        offset += pitch_quotient(i, layout, 2) * layout[coefficients + 2]
    if rank > 2:
        offset += pitch_quotient(i, layout, 1) * layout[coefficients + 1]
    if rank > 1:
        offset += pitch_quotient(i, layout, 0) * layout[coefficients]
    return offset


@hg.func
def grid_offset(col, row, layout, rank, slot):
    """The element offset of input `slot` for the lane at (`col`, `row`) of a 2-D launch
    (see `grid_table`): `col * stride[-1]` plus the row's offset."""
    last = layout[1 + MAGIC * (rank - 1) + rank * slot + rank - 1]
    return col * last + row_offset(row, layout, rank, slot)


@hg.func
def row_offset(row, layout, rank, slot):
    """The offset of input `slot`'s element at the start of `row` (see `grid_table`): its
    divisions, by the pitches of the outer dimensions, depend on the row alone."""
    coefficients = 1 + MAGIC * (rank - 1) + rank * slot
    # One write per register where it can be (rank 2), so that lane mode can hoist the load;
    # a Const `if`, not a ternary, so that only the branch taken is compiled.
    if rank > 1:  # noqa: SIM108
        offset = row * layout[coefficients + rank - 2]
    else:
        offset = hg.uint32(0)
    if rank > 5:
        for d in range(rank - 3, 2, -1):
            offset += magic_quotient(row, layout, 1 + MAGIC * d) * layout[coefficients + d]
    if rank > 4:
        offset += magic_quotient(row, layout, 1 + MAGIC * 2) * layout[coefficients + 2]
    if rank > 3:
        offset += magic_quotient(row, layout, 1 + MAGIC) * layout[coefficients + 1]
    if rank > 2:
        offset += magic_quotient(row, layout, 1) * layout[coefficients]
    return offset


@hg.func
def lane_row(rank):
    """The lane's row: y of a 2-D launch (`rank` > 0), 0 in a 1-D one."""
    if rank == 0:
        return hg.uint32(0)
    else:
        return hg.uint32(hg.global_id(1))


@hg.func
def lane_rows(layout, rank):
    """The rows of the output: `grid_table`'s first word in a 2-D launch, 1 in a 1-D one."""
    if rank == 0:
        return hg.uint32(1)
    else:
        return layout[0]


@hg.func
def output_index(col, row, n, rank):
    """The output element of the lane at (`col`, `row`): `col` in a 1-D launch, else
    `row * n + col` (`n` is then the row length)."""
    if rank == 0:
        return col
    else:
        return row * n + col


@hg.func
def input_index(i, col, row, layout, read, rank, slot):
    """The element of input `slot` that output element `i`, at lane (`col`, `row`), reads,
    as `read` (a Const) says.

    Kernels find every input's index before loading any input, so that the row offsets of
    STRIDED inputs are computed together.
    """
    if read == FULL:
        return i
    elif read == SCALAR:
        return hg.uint32(0)
    elif read == ROW:
        return row_offset(row, layout, rank, slot)
    elif read == LINE:
        return col + row_offset(row, layout, rank, slot)
    else:
        return grid_offset(col, row, layout, rank, slot)


def layout_table(dims: Sequence[int], strides: Sequence[Sequence[int]]) -> np.ndarray:
    """The `layout` argument for collapsed output `dims` and each input's element `strides`.

    With pitches `P[d] = prod(dims[d+1:])`, the coordinate along `d` of output index `i` is
    `(i // P[d]) % dims[d]`, and an input's offset `sum(coordinate[d] * stride[d])` equals
    `sum((i // P[d]) * c[d])` with `c[d] = stride[d] - stride[d+1] * dims[d+1]` (the last
    `c` is the last stride): no remainders and no chain of divisions. The table holds, for each
    `d`, the `MAGIC` words of `pitch_magic(P[d])`, then each input's `c` (wrapped to u32: the
    sum wraps back to the exact offset).
    """
    rank = len(dims)
    pitches = [math.prod(dims[d + 1 :]) for d in range(rank)]
    table = [word for pitch in pitches for word in pitch_magic(pitch)]
    for per_input in strides:
        padded = [*per_input, 0]
        table += [padded[d] - padded[d + 1] * (dims[d + 1] if d + 1 < rank else 0)
                  for d in range(rank)]  # fmt: skip
    return np.array([value % 2**32 for value in table], np.uint32)


def grid_table(dims: Sequence[int], strides: Sequence[Sequence[int]]) -> np.ndarray:
    """The `layout` argument of a 2-D launch over collapsed output `dims` (`rank` > 0).

    The launch's x runs along the last dimension (`n` is its length) and its y over the
    `rows = prod(dims[:-1])` rows. Word 0 is `rows`; then, for each outer dimension `d`, the
    `MAGIC` words of `pitch_magic` of its pitch in rows, `prod(dims[d+1:-1])`; then, for each
    input, `rank` coefficients: those `layout_table` gives for the rows (`dims[:-1]` and the
    input's strides along them) and last the input's stride along the last dimension.
    """
    rank = len(dims)
    rows = list(dims[:-1])
    pitches = [math.prod(rows[d + 1 :]) for d in range(rank - 1)]
    table = [math.prod(rows), *(word for pitch in pitches for word in pitch_magic(pitch))]
    for per_input in strides:
        padded = [*per_input[:-1], 0]
        table += [padded[d] - padded[d + 1] * (rows[d + 1] if d + 2 < rank else 0)
                  for d in range(rank - 1)]  # fmt: skip
        table.append(per_input[-1])
    return np.array([value % 2**32 for value in table], np.uint32)


def grid_shape(dims: Sequence[int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """(grid, block) of a 2-D launch over collapsed output `dims`: x covers the last dimension
    in the fewest blocks of at most `BLOCK_LANES` lanes, as wide as evenly splits it, and y
    fills each block up to `BLOCK_LANES` lanes with rows."""
    inner = dims[-1]
    rows = math.prod(dims[:-1])
    width = -(-inner // -(-inner // BLOCK_LANES))
    height = max(1, min(rows, BLOCK_LANES // width))
    return (-(-inner // width), -(-rows // height)), (width, height)


BLOCK_LANES = 256
"""Lanes per block of an elementwise launch."""


def pitch_magic(pitch: int) -> tuple[int, int, int]:
    """(low, high, shift) with `i // pitch == ((i * low >> 32) + i * high) >> shift` for every
    u32 `i`: `low + high * 2**32` is `ceil(2**(32 + shift) / pitch)`, `shift` is
    `ceil(log2(pitch))` (Granlund and Montgomery, "Division by invariant integers using
    multiplication", 1994: the product is exact for 32-bit numerators)."""
    if not 1 <= pitch < 2**32:
        raise ValueError(f"a pitch must be in [1, 2**32), got {pitch}")
    shift = (pitch - 1).bit_length()
    magic = -(-(1 << (32 + shift)) // pitch)
    return magic % 2**32, magic >> 32, shift


def _signatures(inputs: tuple[str, ...], pairs: tuple[tuple[str, str], ...]) -> list[dict]:
    """Contiguous signatures for `hologram kernels compile`: (storage, compute) dtype pairs."""
    return [
        {**dict.fromkeys(inputs, storage), "out": storage, "compute": compute}
        for storage, compute in pairs
    ]


FLOAT_PAIRS = (("f32", "f32"), ("f64", "f64"), ("f16", "f32"), ("bf16", "f32"))
"""The float storage dtypes with the dtype each computes in."""
NUMERIC_PAIRS = (*FLOAT_PAIRS, ("i32", "i32"), ("i64", "i64"))
"""FLOAT_PAIRS and the common integer dtypes."""

UNARY_FLOAT_SIGNATURES = _signatures(("x",), FLOAT_PAIRS)
UNARY_SIGNATURES = _signatures(("x",), NUMERIC_PAIRS)
BINARY_FLOAT_SIGNATURES = _signatures(("a", "b"), FLOAT_PAIRS)
BINARY_SIGNATURES = _signatures(("a", "b"), NUMERIC_PAIRS)
