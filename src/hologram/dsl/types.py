"""The kernel language's types: scalar types, `Array`, `Scalar` and `Const` annotations.

    @hg.kernel
    def saxpy(a: hg.float32, x: hg.Array[hg.float32], y: hg.Array, n: hg.uint32): ...

An annotation without a dtype (`hg.Array`, `hg.Scalar`) is generic: each call specialises it
to the dtype of the argument passed. `hg.Const[int]` parameters are compile-time constants:
their values are part of the specialisation, like Triton's `constexpr`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hologram.isa.dtypes import DType


@dataclass(frozen=True)
class ScalarType:
    """A scalar type (`hg.float32`, `hg.uint32`, ...): an annotation and, in kernels, a cast."""

    dtype: DType

    def __call__(self, value: Any) -> Any:
        """On the host: `value` as a NumPy scalar of this type (in kernels: a cast)."""
        return self.dtype.numpy.type(value)

    def __repr__(self) -> str:
        return f"hg.{_PUBLIC_NAMES[self.dtype]}"


_PUBLIC_NAMES = {
    DType.BOOL: "bool_",
    DType.I8: "int8",
    DType.I16: "int16",
    DType.I32: "int32",
    DType.I64: "int64",
    DType.U8: "uint8",
    DType.U16: "uint16",
    DType.U32: "uint32",
    DType.U64: "uint64",
    DType.F16: "float16",
    DType.BF16: "bfloat16",
    DType.F32: "float32",
    DType.F64: "float64",
}
SCALAR_TYPES: dict[str, ScalarType] = {name: ScalarType(dt) for dt, name in _PUBLIC_NAMES.items()}
"""Every scalar type by its public name (`float32`, `uint8`, `bool_`, ...)."""

PYTHON_TYPES: dict[type, DType] = {int: DType.I32, float: DType.F32, bool: DType.BOOL}
"""What a Python type annotation (or a Python number argument) means in a kernel."""


@dataclass(frozen=True)
class ArrayType:
    """A 1-D array parameter, of a fixed dtype or generic (`dtype` None)."""

    dtype: DType | None = None

    def __getitem__(self, item: Any) -> ArrayType:
        return ArrayType(resolve_dtype(item))

    def __repr__(self) -> str:
        return "hg.Array" if self.dtype is None else f"hg.Array[{_PUBLIC_NAMES[self.dtype]}]"


@dataclass(frozen=True)
class GenericScalar:
    """A scalar parameter whose dtype comes from the argument (`hg.Scalar`)."""

    def __repr__(self) -> str:
        return "hg.Scalar"


CONST_KINDS = ("int", "float", "bool", "dtype")


@dataclass(frozen=True)
class ConstType:
    """A compile-time constant parameter: `hg.Const[int]`, `[float]`, `[bool]`, `[hg.dtype]`."""

    kind: str | None = None

    def __getitem__(self, item: Any) -> ConstType:
        if item is DTypeMarker or item is DType:
            return ConstType("dtype")
        for kind, py in (("bool", bool), ("int", int), ("float", float)):
            if item is py:
                return ConstType(kind)
        raise TypeError(f"hg.Const[...] takes int, float, bool or hg.dtype, not {item!r}")

    def __repr__(self) -> str:
        return "hg.Const" if self.kind is None else f"hg.Const[{self.kind}]"


class DTypeMarker:
    """`hg.dtype`: the type of dtype values, for `hg.Const[hg.dtype]`."""


Array = ArrayType()
Scalar = GenericScalar()
Const = ConstType()


def resolve_dtype(value: Any) -> DType:
    """A DType from a ScalarType, a DType, a NumPy dtype or type, or a name."""
    if isinstance(value, ScalarType):
        return value.dtype
    if value in PYTHON_TYPES:
        return PYTHON_TYPES[value]
    return DType.of(value)


def dtype_of_value(value: Any) -> DType:
    """The dtype a Python or NumPy scalar argument takes in a kernel."""
    if isinstance(value, (bool, np.bool_)):
        return DType.BOOL
    if isinstance(value, np.generic):
        return DType.of(value.dtype)
    if isinstance(value, int):
        return DType.I32
    if isinstance(value, float):
        return DType.F32
    return DType.of(np.asarray(value).dtype)


# ---------------------------------------------------------------- promotion rules
def _rank(dt: DType) -> int:
    return dt.itemsize


def promote(a: DType, b: DType) -> DType:
    """The type of a binary operation on values of types `a` and `b`.

    Floats beat integers (`i32 + f32` is f32); wider beats narrower; f16 with bf16 is f32; two
    integers of one width but different signedness give the signed type (C's rule, except that
    signed wins, so `i < n` with `n: uint32` compares as int32). bool promotes like an integer.
    """
    if a is b:
        return a
    if a.is_bool:
        return b if not b.is_bool else a
    if b.is_bool:
        return a
    if a.is_float or b.is_float:
        if not b.is_float:
            return a
        if not a.is_float:
            return b
        if {a, b} == {DType.F16, DType.BF16}:
            return DType.F32
        return a if _rank(a) >= _rank(b) else b
    if _rank(a) != _rank(b):
        return a if _rank(a) > _rank(b) else b
    return a if a.is_signed else b
