"""Element types of ONNX tensors and how hologram stores them.

The compiler speaks ONNX element types (`onnx.TensorProto.DataType` codes), because a model
may use types that no ISA register holds: float8 and 4-bit integers are stored as their raw
bytes (`uint8`) and only the ops that convert them read their bits. Strings have no storage at
all: an op that needs one raises UnsupportedOpError.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from hologram.errors import UnsupportedOpError
from hologram.isa.dtypes import DType
from onnx import TensorProto

FLOAT = TensorProto.FLOAT
DOUBLE = TensorProto.DOUBLE
FLOAT16 = TensorProto.FLOAT16
BFLOAT16 = TensorProto.BFLOAT16
BOOL = TensorProto.BOOL
INT8, INT16, INT32, INT64 = (
    TensorProto.INT8,
    TensorProto.INT16,
    TensorProto.INT32,
    TensorProto.INT64,
)
UINT8, UINT16 = TensorProto.UINT8, TensorProto.UINT16
UINT32, UINT64 = TensorProto.UINT32, TensorProto.UINT64
STRING = TensorProto.STRING

_STORAGE: dict[int, DType] = {
    FLOAT: DType.F32,
    DOUBLE: DType.F64,
    FLOAT16: DType.F16,
    BFLOAT16: DType.BF16,
    BOOL: DType.BOOL,
    INT8: DType.I8,
    INT16: DType.I16,
    INT32: DType.I32,
    INT64: DType.I64,
    UINT8: DType.U8,
    UINT16: DType.U16,
    UINT32: DType.U32,
    UINT64: DType.U64,
}

# Types stored as raw bytes, one element a byte (4-bit and 2-bit ones unpacked, as ml_dtypes
# holds them).
_BYTE_CODED: dict[int, np.dtype] = {}
for _name, _np in (
    ("FLOAT8E4M3FN", ml_dtypes.float8_e4m3fn),
    ("FLOAT8E4M3FNUZ", ml_dtypes.float8_e4m3fnuz),
    ("FLOAT8E5M2", ml_dtypes.float8_e5m2),
    ("FLOAT8E5M2FNUZ", ml_dtypes.float8_e5m2fnuz),
    ("FLOAT8E8M0", getattr(ml_dtypes, "float8_e8m0fnu", None)),
    ("INT4", ml_dtypes.int4),
    ("UINT4", ml_dtypes.uint4),
    ("FLOAT4E2M1", getattr(ml_dtypes, "float4_e2m1fn", None)),
    ("INT2", getattr(ml_dtypes, "int2", None)),
    ("UINT2", getattr(ml_dtypes, "uint2", None)),
):
    _code = getattr(TensorProto, _name, None)
    if _code is not None and _np is not None:
        _BYTE_CODED[_code] = np.dtype(_np)

_NAMES = {value: name.lower() for name, value in TensorProto.DataType.items()}


def elem_name(elem: int) -> str:
    """The ONNX name of an element type, lower case (`float`, `int64`, `float8e4m3fn`)."""
    return _NAMES.get(elem, f"type {elem}")


def is_byte_coded(elem: int) -> bool:
    """True for the types stored as their raw bits (float8, 4-bit and 2-bit)."""
    return elem in _BYTE_CODED


def storage_dtype(elem: int, what: str = "") -> DType:
    """The ISA dtype a tensor of `elem` is stored as (uint8 for byte-coded types)."""
    dtype = _STORAGE.get(elem)
    if dtype is not None:
        return dtype
    if elem in _BYTE_CODED:
        return DType.U8
    where = f"{what}: " if what else ""
    raise UnsupportedOpError(f"{where}tensors of {elem_name(elem)} are not supported")


def numpy_dtype(elem: int) -> np.dtype:
    """The NumPy dtype of `elem` as users see it (ml_dtypes for float8 and 4-bit types)."""
    dtype = _STORAGE.get(elem)
    if dtype is not None:
        return dtype.numpy
    if elem in _BYTE_CODED:
        return _BYTE_CODED[elem]
    if elem == STRING:
        return np.dtype(object)
    raise UnsupportedOpError(f"tensors of {elem_name(elem)} are not supported")


def elem_of_numpy(dtype: np.dtype) -> int:
    """The ONNX element type of a NumPy dtype."""
    dtype = np.dtype(dtype)
    for elem, stored in _STORAGE.items():
        if stored.numpy == dtype:
            return elem
    for elem, stored_np in _BYTE_CODED.items():
        if stored_np == dtype:
            return elem
    if dtype.kind in "OUS":
        return STRING
    raise UnsupportedOpError(f"arrays of {dtype} have no ONNX element type")


def elem_of_dtype(dtype: DType) -> int:
    """The ONNX element type of an ISA dtype."""
    for elem, stored in _STORAGE.items():
        if stored is dtype:
            return elem
    raise UnsupportedOpError(f"{dtype} has no ONNX element type")


def to_storage(array: np.ndarray, elem: int) -> np.ndarray:
    """`array` as the bytes hologram stores for `elem` (a view where possible)."""
    if elem in _BYTE_CODED:
        return np.ascontiguousarray(array).view(np.uint8)
    return np.ascontiguousarray(array, dtype=storage_dtype(elem).numpy)


def from_storage(array: np.ndarray, elem: int) -> np.ndarray:
    """The user-facing array of stored `array` (float8/4-bit bytes viewed as ml_dtypes)."""
    if elem in _BYTE_CODED:
        return array.view(_BYTE_CODED[elem])
    return array
