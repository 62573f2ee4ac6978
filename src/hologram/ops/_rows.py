"""Shared pieces of the row-wise ops (reductions, softmax, layer_norm).

An input is viewed as `(outer, r, inner)` around the axes an op works along; the kernels
(`hologram.kernels.reduce`, `hologram.kernels.normalization`) give one lane one `(outer,
inner)` position, or a chunk of one, and loop over the `r` elements between, which lie `inner`
elements apart starting at `o * r * inner + i`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from hologram.errors import ShapeError
from hologram.isa.dtypes import DType


def normalize_axes(axis: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """Sorted, non-negative axes; None means all. ShapeError for out-of-range or repeated."""
    if axis is None:
        return tuple(range(ndim))
    try:
        raw = (axis,) if isinstance(axis, int) else tuple(axis)
    except TypeError:
        raise ShapeError(f"{op}: axis must be an int, ints or None, got {axis!r}") from None
    axes = []
    for a in raw:
        if not isinstance(a, int) or isinstance(a, bool) or not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a!r} is out of range for {ndim} dimensions")
        axes.append(a % ndim)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: repeated axis in {raw!r}")
    return tuple(sorted(axes))


def split(shape: Sequence[int], first: int, last: int) -> tuple[int, int, int]:
    """(outer, r, inner): the sizes before `first`, from `first` to `last`, and after."""
    return (
        math.prod(shape[:first]),
        math.prod(shape[first : last + 1]),
        math.prod(shape[last + 1 :]),
    )


def axis_runs(axes: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted axes grouped into runs of consecutive axes, as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for a in axes:
        if runs and runs[-1][1] == a - 1:
            runs[-1] = (runs[-1][0], a)
        else:
            runs.append((a, a))
    return runs


def widened(dtype: DType) -> DType:
    """The dtype f16 and bf16 accumulate in (f32); others accumulate in their own."""
    return DType.F32 if dtype in (DType.F16, DType.BF16) else dtype
