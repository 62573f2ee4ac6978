"""Values of the kernel lowering: registers, compile-time constants, arrays and dtypes.

A `Val` is what an IR expression lowers to. Numbers written in the source are *weak*: they take
the type of the other operand (`x * 2.0` is f16 for an f16 `x`), as in NumPy 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hologram.dsl.fold import convert
from hologram.dsl.types import promote
from hologram.isa.dtypes import DType
from hologram.isa.program import Arg, Operand, Shared


@dataclass(frozen=True)
class Val:
    """A scalar value: an ISA operand, or a compile-time constant when `operand` is None.

    A weak constant's `const` is an exact Python int or float (its `dtype` is nominal: i32 or
    f32); a typed constant's `const` is representable in `dtype`.
    """

    dtype: DType
    operand: Operand | None = None
    const: int | float | bool | None = None
    weak: bool = False

    @property
    def is_const(self) -> bool:
        """Whether this is a compile-time constant."""
        return self.operand is None


@dataclass(frozen=True)
class ArrayRef:
    """A global array parameter."""

    name: str
    arg: Arg
    dtype: DType


@dataclass(frozen=True)
class SharedRef:
    """A per-block shared array with a static shape."""

    name: str
    ref: Shared
    dtype: DType
    shape: tuple[int, ...]


@dataclass(frozen=True)
class DTypeVal:
    """A dtype used as a value (`hg.float32`, `x.dtype`, a `Const[hg.dtype]` parameter)."""

    dtype: DType


Value = Val | ArrayRef | SharedRef | DTypeVal


def constant(value: int | float | bool, dtype: DType | None = None) -> Val:
    """A compile-time constant: typed (converted to `dtype`), or without a dtype a Python
    number, which is weak (its exact value is kept until it meets a typed value)."""
    if dtype is not None:
        return Val(dtype, const=convert(value, dtype))
    if isinstance(value, (bool, np.bool_)):
        return Val(DType.BOOL, const=bool(value))
    if isinstance(value, (int, np.integer)):
        return Val(DType.I32, const=int(value), weak=True)
    return Val(DType.F32, const=float(value), weak=True)


def combine(a: Val, b: Val) -> tuple[DType, bool]:
    """The dtype and weakness of a binary operation on `a` and `b` (see `types.promote`)."""
    if a.weak and not b.weak:
        return _weak_with(a.dtype, b.dtype), False
    if b.weak and not a.weak:
        return _weak_with(b.dtype, a.dtype), False
    return promote(a.dtype, b.dtype), a.weak and b.weak


def _weak_with(weak: DType, strong: DType) -> DType:
    # A weak float meets an integer: the result is a float (f32), not the integer type.
    if weak.is_float and not strong.is_float:
        return DType.F32
    if weak.is_int and strong.is_bool:
        return weak
    return strong


def unify(current: tuple[DType, bool], new: tuple[DType, bool]) -> tuple[DType, bool]:
    """The type of a variable assigned values of both `current` and `new` types."""
    a = Val(current[0], const=0, weak=current[1])
    b = Val(new[0], const=0, weak=new[1])
    return combine(a, b)
