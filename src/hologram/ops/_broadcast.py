"""NumPy broadcasting reduced to the fewest dimensions an elementwise kernel must index.

Each input is described, relative to the output, by element strides (0 along broadcast
dimensions). Dimensions of size 1 are dropped and neighbours that every input walks
contiguously are merged, so that most calls end in one of two fast cases: an input read at the
output index (`FULL`) or a single element read everywhere (`SCALAR`). Only what remains needs
index arithmetic (`STRIDED`), from `Layout.table`, the elementwise kernels' `layout` argument
that the dims and strides give (see `hologram/kernels/_elementwise.py`).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from hologram.errors import ShapeError
from hologram.kernels import _elementwise


class Access(enum.IntEnum):
    """How an elementwise kernel reads one input from the output index (its `<input>_read`)."""

    FULL = _elementwise.FULL  # element i
    SCALAR = _elementwise.SCALAR  # element 0
    STRIDED = _elementwise.STRIDED  # an offset computed from the collapsed dims and strides
    ROW = _elementwise.ROW  # STRIDED, one value per row of the output (last stride 0)
    LINE = _elementwise.LINE  # STRIDED, each row contiguous (last stride 1)


_INDEXED = frozenset({Access.STRIDED, Access.ROW, Access.LINE})


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


NO_TABLE = _read_only(np.zeros(1, np.uint32))
"""The `layout` argument of a launch without STRIDED inputs, which never reads it."""


@dataclass(frozen=True)
class Layout:
    """The broadcast of some input shapes: output shape and how each input is read."""

    shape: tuple[int, ...]
    dims: tuple[int, ...]
    """The collapsed output dimensions (empty for a fast layout)."""
    strides: tuple[tuple[int, ...], ...]
    """Per input, its element stride along each collapsed dimension."""
    access: tuple[Access, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def rank(self) -> int:
        """Collapsed dimensions indexed by div/mod; 0 when no input is STRIDED."""
        return len(self.dims) if _INDEXED.intersection(self.access) else 0

    @cached_property
    def table(self) -> np.ndarray:
        """The kernels' `layout` argument (read-only u32; `NO_TABLE` when no input is STRIDED):
        the `grid_table` of the 2-D launch."""
        if not self.rank:
            return NO_TABLE
        return _read_only(_elementwise.grid_table(self.dims, self.strides))

    @property
    def row_length(self) -> int:
        """The kernels' `n` argument: the element count of a 1-D launch (rank 0), else the
        length of the rows of the 2-D launch (the last collapsed dimension)."""
        return self.dims[-1] if self.rank else self.size

    @cached_property
    def geometry(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(grid, block) of the launch over a non-empty layout: 1-D with `BLOCK_LANES` lanes
        a block at rank 0, else 2-D (`grid_shape`)."""
        if not self.rank:
            lanes = _elementwise.BLOCK_LANES
            return (max(1, -(-self.size // lanes)),), (lanes,)
        return _elementwise.grid_shape(self.dims)


def broadcast_shapes(shapes: Sequence[tuple[int, ...]], op: str) -> tuple[int, ...]:
    """NumPy's broadcast of `shapes`; ShapeError naming them when they do not broadcast."""
    out: list[int] = []
    rank = max((len(s) for s in shapes), default=0)
    for axis in range(-rank, 0):
        sizes = {s[axis] for s in shapes if len(s) >= -axis}
        sizes.discard(1)
        if len(sizes) > 1:
            listed = " and ".join(str(tuple(s)) for s in shapes)
            raise ShapeError(f"{op}: shapes {listed} cannot be broadcast together")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _strides_against(shape: tuple[int, ...], out: tuple[int, ...]) -> list[int]:
    padded = (1,) * (len(out) - len(shape)) + tuple(shape)
    strides = [0] * len(out)
    step = 1
    for axis in range(len(out) - 1, -1, -1):
        strides[axis] = step if padded[axis] != 1 else 0
        step *= padded[axis]
    return strides


def broadcast_layout(
    shapes: Sequence[tuple[int, ...]], op: str, out_shape: tuple[int, ...] | None = None
) -> Layout:
    """The collapsed layout of inputs of `shapes` broadcast together (or to `out_shape`)."""
    return _layout(tuple(tuple(s) for s in shapes), op, out_shape)


@lru_cache(maxsize=4096)
def _layout(
    shapes: tuple[tuple[int, ...], ...], op: str, out_shape: tuple[int, ...] | None
) -> Layout:
    if out_shape is None:
        out = broadcast_shapes(shapes, op)
    else:
        out = tuple(out_shape)
        if broadcast_shapes([*shapes, out], op) != out:
            listed = ", ".join(str(tuple(s)) for s in shapes)
            raise ShapeError(f"{op}: shapes {listed} cannot be broadcast to {out}")
    per_input = [_strides_against(s, out) for s in shapes]
    dims: list[int] = []
    strides: list[list[int]] = [[] for _ in shapes]
    for axis, size in enumerate(out):
        if size == 1:
            continue
        mergeable = dims and all(s[-1] == per_input[k][axis] * size for k, s in enumerate(strides))
        if mergeable:
            dims[-1] *= size
            for k, s in enumerate(strides):
                s[-1] = per_input[k][axis]
        else:
            dims.append(size)
            for k, s in enumerate(strides):
                s.append(per_input[k][axis])
    access = tuple(_access_of(s, dims) for s in strides)
    return Layout(out, tuple(dims), tuple(tuple(s) for s in strides), access)


def _access_of(strides: list[int], dims: list[int]) -> Access:
    if all(s == 0 for s in strides):
        return Access.SCALAR
    contiguous = 1
    for axis in range(len(dims) - 1, -1, -1):
        if strides[axis] != contiguous:
            return {0: Access.ROW, 1: Access.LINE}.get(strides[-1], Access.STRIDED)
        contiguous *= dims[axis]
    return Access.FULL
