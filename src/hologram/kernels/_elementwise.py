"""What the elementwise kernels share: how they read broadcast inputs, and their signatures.

Every elementwise kernel (`vector/`, `activation/`, `math/`, `convert/`, `linalg/axpby`,
`linalg/scale`) has one lane per output element and the same parameters, in this order:

    <inputs...>, out, n, layout, <scalars...>, compute, <input>_read..., rank

- `<inputs>`: generic arrays; `out`: the generic output array of `n` elements;
- `layout`: a u32 array describing the collapsed output dimensions (as magic numbers that turn
  divisions into multiplications) and each input's strides (`layout_table`); read only by
  STRIDED inputs, so any u32 array will do when none is;
- `<scalars>`: the op's own `hg.Scalar` parameters (e.g. axpby's `alpha`, `beta`);
- `compute`: the dtype the element function runs in (the output's, or f32 for f16/bf16
  outputs); inputs are converted to it on load and the result is rounded once at the store;
- `<input>_read`: how each input is read from output index `i` (Consts): `FULL` reads
  element `i`, `SCALAR` element 0, `STRIDED` the offset that `layout` gives; `rank` is the
  number of collapsed dimensions (0 unless some input is STRIDED).

Lane `i = hg.uint32(hg.global_id())` (u32 like `n`, so that outputs of up to 2**32 - 1
elements index correctly) finds each input's element with `input_index`, converts what it
loads to `compute` and calls the op's element func:

    out[i] = f(compute(a[j]), compute(b[k]))

The read modes and rank are compile-time constants, so a contiguous launch is exactly
`out[i] = f(a[i], b[i])` and a broadcast scalar is `f(a[i], b[0])`; only STRIDED inputs pay
for index arithmetic.
`hologram.ops._broadcast` computes the read modes and the layout.
"""

import math
from collections.abc import Sequence

import numpy as np

import hologram as hg

FULL = 0
"""Read element `i` (the input has the output's shape)."""
SCALAR = 1
"""Read element 0 (one value broadcast everywhere)."""
STRIDED = 2
"""Read at the offset `strided_offset` computes from `layout`."""


MAGIC = 3
"""Table entries per collapsed dimension that describe its pitch (see `layout_table`)."""


@hg.func
def pitch_quotient(i, layout, d):
    """`i // pitch[d]` as a multiply by the pitch's magic number (`layout_table`): integer
    division does not vectorise, while this is two 32 x 32 -> 64-bit products and shifts."""
    wide = hg.uint64(i)
    low = (wide * hg.uint64(layout[MAGIC * d])) >> 32
    return hg.uint32((low + wide * hg.uint64(layout[MAGIC * d + 1])) >> layout[MAGIC * d + 2])


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
def input_index(i, layout, read, rank, slot):
    """The element of input `slot` that output element `i` reads, as `read` (a Const) says.

    Kernels find every input's index before loading any input, so that the divisions of
    STRIDED inputs are shared (the cpu backend's compiler stops sharing them across a load).
    """
    if read == FULL:
        return i
    elif read == SCALAR:
        return hg.uint32(0)
    else:
        return strided_offset(i, layout, rank, slot)


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
