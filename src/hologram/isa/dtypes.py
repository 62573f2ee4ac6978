"""The ISA's scalar types and their NumPy equivalents (bfloat16 comes from ml_dtypes)."""

from __future__ import annotations

import enum

import ml_dtypes
import numpy as np

from hologram.errors import DTypeError


class DType(enum.Enum):
    """A scalar type of registers, buffers and immediates. The value is the text name."""

    BOOL = "bool"
    I8 = "i8"
    I16 = "i16"
    I32 = "i32"
    I64 = "i64"
    U8 = "u8"
    U16 = "u16"
    U32 = "u32"
    U64 = "u64"
    F16 = "f16"
    BF16 = "bf16"
    F32 = "f32"
    F64 = "f64"

    @property
    def numpy(self) -> np.dtype:
        """The NumPy dtype that stores this type."""
        return self._numpy  # type: ignore[attr-defined]

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self._itemsize  # type: ignore[attr-defined]

    @property
    def is_float(self) -> bool:
        return self in FLOAT_TYPES

    @property
    def is_int(self) -> bool:
        return self in INT_TYPES

    @property
    def is_signed(self) -> bool:
        return self in SIGNED_INT_TYPES or self in FLOAT_TYPES

    @property
    def is_bool(self) -> bool:
        return self is DType.BOOL

    @property
    def code(self) -> int:
        """Stable one-byte code used by the binary encoding."""
        return _CODES[self]

    @classmethod
    def from_code(cls, code: int) -> DType:
        """The dtype with binary code `code`."""
        try:
            return _FROM_CODE[code]
        except KeyError:
            raise DTypeError(f"unknown dtype code {code}") from None

    @classmethod
    def of(cls, value: object) -> DType:
        """Resolve a DType, its text name, a NumPy dtype or anything `np.dtype` accepts."""
        if isinstance(value, DType):
            return value
        if isinstance(value, str) and value in _BY_NAME:
            return _BY_NAME[value]
        if isinstance(value, np.dtype) and value in _FROM_NUMPY:
            return _FROM_NUMPY[value]
        try:
            np_dtype = np.dtype(value)  # type: ignore[call-overload]
        except TypeError:
            raise DTypeError(f"unknown dtype {value!r}") from None
        try:
            return _FROM_NUMPY[np_dtype]
        except KeyError:
            raise DTypeError(f"dtype {np_dtype} has no ISA equivalent") from None

    def __str__(self) -> str:
        return self.value


_TO_NUMPY: dict[DType, np.dtype] = {
    DType.BOOL: np.dtype(np.bool_),
    DType.I8: np.dtype(np.int8),
    DType.I16: np.dtype(np.int16),
    DType.I32: np.dtype(np.int32),
    DType.I64: np.dtype(np.int64),
    DType.U8: np.dtype(np.uint8),
    DType.U16: np.dtype(np.uint16),
    DType.U32: np.dtype(np.uint32),
    DType.U64: np.dtype(np.uint64),
    DType.F16: np.dtype(np.float16),
    DType.BF16: np.dtype(ml_dtypes.bfloat16),
    DType.F32: np.dtype(np.float32),
    DType.F64: np.dtype(np.float64),
}
_FROM_NUMPY = {v: k for k, v in _TO_NUMPY.items()}
# Stored on the members themselves: these are read on every launch, and hashing an enum
# member for a dict look-up costs a Python-level call.
for _member, _np_dtype in _TO_NUMPY.items():
    _member._numpy = _np_dtype
    _member._itemsize = _np_dtype.itemsize
_BY_NAME = {d.value: d for d in DType}
_CODES = {d: i for i, d in enumerate(DType)}
_FROM_CODE = {i: d for d, i in _CODES.items()}

FLOAT_TYPES = frozenset({DType.F16, DType.BF16, DType.F32, DType.F64})
SIGNED_INT_TYPES = frozenset({DType.I8, DType.I16, DType.I32, DType.I64})
UNSIGNED_INT_TYPES = frozenset({DType.U8, DType.U16, DType.U32, DType.U64})
INT_TYPES = SIGNED_INT_TYPES | UNSIGNED_INT_TYPES
NUMERIC_TYPES = INT_TYPES | FLOAT_TYPES
ALL_TYPES = frozenset(DType)
