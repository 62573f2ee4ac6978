"""The weights section of a compiled model: safetensors bytes, every tensor 64-byte aligned.

    builder = WeightsBuilder()
    key = builder.add("graph/w", array)          # identical bytes are stored once
    payload = builder.to_bytes()                  # the section's payload
    tensors = read_weights(payload, where)        # key -> read-only view of the payload

The payload is a valid safetensors file (8-byte little-endian header length, JSON header,
data), with two extra guarantees that let a reader view every tensor in place: the header is
padded with spaces so that the data starts 64-byte aligned, and gaps between tensors are
covered by explicit `U8` padding entries so that each tensor starts 64-byte aligned. The
layout is specified in `SPEC.md`, *Compiled models*.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np
import xxhash

from hologram.errors import ArtifactError

ALIGNMENT = 64
HEADER_LENGTH = struct.Struct("<Q")
PADDING_PREFIX = "__pad__/"
METADATA_KEY = "__metadata__"

DTYPES: dict[str, np.dtype] = {
    name: np.dtype(dtype)
    for name, dtype in (
        ("bool", np.bool_),
        ("int8", np.int8),
        ("int16", np.int16),
        ("int32", np.int32),
        ("int64", np.int64),
        ("uint8", np.uint8),
        ("uint16", np.uint16),
        ("uint32", np.uint32),
        ("uint64", np.uint64),
        ("float16", np.float16),
        ("float32", np.float32),
        ("float64", np.float64),
        ("complex64", np.complex64),
        ("complex128", np.complex128),
        ("bfloat16", ml_dtypes.bfloat16),
        ("float8_e4m3fn", ml_dtypes.float8_e4m3fn),
        ("float8_e4m3fnuz", ml_dtypes.float8_e4m3fnuz),
        ("float8_e5m2", ml_dtypes.float8_e5m2),
        ("float8_e5m2fnuz", ml_dtypes.float8_e5m2fnuz),
        ("float8_e8m0fnu", getattr(ml_dtypes, "float8_e8m0fnu", None)),
        ("float4_e2m1fn", getattr(ml_dtypes, "float4_e2m1fn", None)),
        ("int4", ml_dtypes.int4),
        ("uint4", ml_dtypes.uint4),
        ("int2", getattr(ml_dtypes, "int2", None)),
        ("uint2", getattr(ml_dtypes, "uint2", None)),
    )
    if dtype is not None
}
"""The NumPy dtypes a weight may have, by the name the manifest records."""
_NAME_OF = {dtype: name for name, dtype in DTYPES.items()}

SAFETENSORS_DTYPES: dict[str, str] = {
    "bool": "BOOL",
    "int8": "I8",
    "int16": "I16",
    "int32": "I32",
    "int64": "I64",
    "uint8": "U8",
    "uint16": "U16",
    "uint32": "U32",
    "uint64": "U64",
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
    "bfloat16": "BF16",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
}
"""Manifest dtype name -> safetensors dtype; any other dtype is stored as `U8` bytes."""
_ITEMSIZE = {code: DTYPES[name].itemsize for name, code in SAFETENSORS_DTYPES.items()}


def dtype_name(dtype: np.dtype, where: str) -> str:
    """The manifest name of `dtype` (`float32`, `float8_e4m3fn`); ArtifactError if none."""
    name = _NAME_OF.get(np.dtype(dtype).newbyteorder("="))
    if name is None:
        raise ArtifactError(f"{where}: arrays of {dtype} cannot be stored in a .holo file")
    return name


def dtype_of(name: Any, where: str) -> np.dtype:
    """The NumPy dtype a manifest names; ArtifactError for an unknown name."""
    dtype = DTYPES.get(name) if isinstance(name, str) else None
    if dtype is None:
        raise ArtifactError(f"{where}: unknown dtype {name!r}")
    return dtype


def little_endian(array: np.ndarray) -> np.ndarray:
    """`array` as C-contiguous, little-endian data (a view when it already is)."""
    # Not np.ascontiguousarray, which turns a 0-d array into a 1-d one.
    array = np.asarray(array)
    if not array.flags.c_contiguous:
        array = array.copy(order="C")
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return array


# ---------------------------------------------------------------- writing
@dataclass(frozen=True)
class _Stored:
    key: str
    data: np.ndarray


class WeightsBuilder:
    """Collects arrays under unique keys, storing identical bytes once."""

    def __init__(self) -> None:
        self._stored: list[_Stored] = []
        self._by_key: dict[str, _Stored] = {}
        self._by_content: dict[tuple[int, int], list[_Stored]] = {}

    def add(self, key: str, array: np.ndarray) -> str:
        """Store `array` under `key` (or under the key of identical bytes stored before, or
        under `key#n` if `key` is taken); the key it is stored under."""
        data = little_endian(array)
        dtype_name(data.dtype, key)
        raw = data.reshape(-1).view(np.uint8)
        digest = (raw.size, xxhash.xxh3_64_intdigest(raw))
        for stored in self._by_content.get(digest, ()):
            if np.array_equal(stored.data.reshape(-1).view(np.uint8), raw):
                return stored.key
        unique, counter = key, 1
        while unique in self._by_key or unique.startswith(PADDING_PREFIX) or unique == METADATA_KEY:
            unique, counter = f"{key}#{counter}", counter + 1
        stored = _Stored(unique, data)
        self._stored.append(stored)
        self._by_key[unique] = stored
        self._by_content.setdefault(digest, []).append(stored)
        return unique

    def __len__(self) -> int:
        return len(self._stored)

    @property
    def nbytes(self) -> int:
        """The bytes of tensor data stored (padding not counted)."""
        return sum(s.data.nbytes for s in self._stored)

    def to_bytes(self) -> bytearray:
        """The section payload: header length, padded JSON header, aligned data."""
        header: dict[str, Any] = {METADATA_KEY: {"producer": "hologram", "alignment": "64"}}
        places: list[tuple[int, np.ndarray]] = []
        position = 0
        paddings = 0
        for stored in self._stored:
            start = -(-position // ALIGNMENT) * ALIGNMENT
            if start > position:
                paddings += 1
                header[f"{PADDING_PREFIX}{paddings - 1}"] = {
                    "dtype": "U8",
                    "shape": [start - position],
                    "data_offsets": [position, start],
                }
            data = stored.data
            name = dtype_name(data.dtype, stored.key)
            code = SAFETENSORS_DTYPES.get(name)
            shape = list(data.shape) if code else [data.nbytes]
            end = start + data.nbytes
            header[stored.key] = {
                "dtype": code or "U8",
                "shape": shape,
                "data_offsets": [start, end],
            }
            places.append((start, data))
            position = end
        text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
        # Spaces after the JSON (allowed by safetensors) put the data at a 64-byte boundary.
        padded = -(-(HEADER_LENGTH.size + len(text)) // ALIGNMENT) * ALIGNMENT
        text += b" " * (padded - HEADER_LENGTH.size - len(text))
        payload = bytearray(padded + position)
        HEADER_LENGTH.pack_into(payload, 0, len(text))
        payload[HEADER_LENGTH.size : padded] = text
        view = memoryview(payload)
        for start, data in places:
            view[padded + start : padded + start + data.nbytes] = data.reshape(-1).view(np.uint8)
        return payload


# ---------------------------------------------------------------- reading
def read_weights(payload: memoryview, where: str) -> dict[str, memoryview]:
    """Each stored key -> its bytes, a zero-copy slice of `payload` (padding left out).

    Checks everything a safetensors reader checks: the header length, the JSON, known
    dtypes, each tensor's byte count against its shape, and that the entries tile the data
    exactly. Raises ArtifactError naming `where` (the section).
    """
    size = len(payload)
    if size < HEADER_LENGTH.size:
        raise ArtifactError(f"{where}: {size} bytes, too short for the header length")
    (length,) = HEADER_LENGTH.unpack_from(payload)
    data_start = HEADER_LENGTH.size + length
    if data_start > size:
        raise ArtifactError(
            f"{where}: header of {length} bytes runs past the end of the section ({size} bytes)"
        )
    try:
        header = json.loads(bytes(payload[HEADER_LENGTH.size : data_start]))
    except (ValueError, RecursionError) as exc:
        raise ArtifactError(f"{where}: header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ArtifactError(f"{where}: header is not a JSON object")
    data_length = size - data_start
    spans: list[tuple[int, int, str]] = []
    found: dict[str, memoryview] = {}
    for key, entry in header.items():
        if key == METADATA_KEY:
            continue
        begin, end = _entry_span(entry, f"{where}: tensor {key!r}", data_length)
        spans.append((begin, end, key))
        if not key.startswith(PADDING_PREFIX):
            found[key] = payload[data_start + begin : data_start + end]
    position = 0
    for begin, end, key in sorted(spans):
        if begin != position:
            raise ArtifactError(
                f"{where}: tensor {key!r} starts at data byte {begin}, expected {position} "
                "(entries must tile the data without holes or overlaps)"
            )
        position = end
    if position != data_length:
        raise ArtifactError(
            f"{where}: the tensors cover {position} bytes of data, the section holds {data_length}"
        )
    return found


def _entry_span(entry: Any, where: str, data_length: int) -> tuple[int, int]:
    if not isinstance(entry, dict):
        raise ArtifactError(f"{where}: entry is not an object")
    code, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(code, str) or code not in _ITEMSIZE:
        raise ArtifactError(f"{where}: unknown safetensors dtype {code!r}")
    if not _is_int_list(shape):
        raise ArtifactError(f"{where}: shape {shape!r} is not a list of sizes")
    if not _is_int_list(offsets) or len(offsets) != 2:
        raise ArtifactError(f"{where}: data_offsets {offsets!r} is not [begin, end]")
    begin, end = offsets
    if not begin <= end <= data_length:
        raise ArtifactError(
            f"{where}: data_offsets [{begin}, {end}] lie outside the {data_length} data bytes"
        )
    if math.prod(shape) * _ITEMSIZE[code] != end - begin:
        raise ArtifactError(
            f"{where}: {code}{shape} needs {math.prod(shape) * _ITEMSIZE[code]} bytes, "
            f"data_offsets give {end - begin}"
        )
    return begin, end


def _is_int_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    )


def view_array(data: memoryview, dtype: np.dtype, shape: tuple[int, ...], where: str) -> np.ndarray:
    """`data` viewed in place as an array of `dtype` and `shape` (read-only, no copy)."""
    needed = math.prod(shape) * dtype.itemsize
    if needed != len(data):
        raise ArtifactError(
            f"{where}: {dtype}{list(shape)} needs {needed} bytes, its weight holds {len(data)}"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape)
