"""A model's weights in and out: safetensors, `.npy`/`.npz` and ONNX initializers.

`read_tensors(path)` gives name -> array for any of them; `write_tensors(path, tensors)` writes
safetensors or `.npz`. The HoloTensor file of a model holds the same names, so swapping a
model's weights for progressively loaded ones is a lookup by name.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import numpy as np

from hologram.holotensor.errors import HoloTensorError

_SAFETENSORS = {
    "BOOL": "bool", "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64", "U8": "uint8",
    "U16": "uint16", "U32": "uint32", "U64": "uint64", "F16": "float16", "BF16": "bfloat16",
    "F32": "float32", "F64": "float64",
}  # fmt: skip
_CODES = {name: code for code, name in _SAFETENSORS.items()}
MAX_HEADER = 100 << 20


def _dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file (the format is 8 bytes of header length, a JSON
    header, then the data), checked against the file's size."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise HoloTensorError(f"{path}: too short for a safetensors file")
    (length,) = struct.unpack_from("<Q", data)
    if length > min(MAX_HEADER, len(data) - 8):
        raise HoloTensorError(f"{path}: safetensors header length {length} is past the end")
    try:
        header = json.loads(data[8 : 8 + length])
    except ValueError as exc:
        raise HoloTensorError(f"{path}: safetensors header is not JSON ({exc})") from None
    body = memoryview(data)[8 + length :]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _dtype(_SAFETENSORS[entry["dtype"]])
            shape = tuple(int(d) for d in entry["shape"])
            begin, end = (int(v) for v in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise HoloTensorError(f"{path}: tensor {name!r}: bad safetensors entry") from None
        if not 0 <= begin <= end <= len(body) or end - begin != math.prod(shape) * dtype.itemsize:
            raise HoloTensorError(f"{path}: tensor {name!r}: data_offsets do not fit its shape")
        out[name] = np.frombuffer(body[begin:end], dtype.newbyteorder("<")).reshape(shape).copy()
    return out


def write_safetensors(path: str | os.PathLike, tensors: dict[str, np.ndarray]) -> None:
    """Write `tensors` as a safetensors file."""
    header, chunks, at = {}, [], 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        code = _CODES.get(array.dtype.name)
        if code is None:
            raise HoloTensorError(f"tensor {name!r}: safetensors has no {array.dtype.name}")
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [at, at + len(raw)]}  # fmt: skip
        chunks.append(raw)
        at += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def read_onnx_initializers(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The initializers of an ONNX model (external data included)."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(os.fspath(path))
    except Exception as exc:  # onnx raises protobuf's DecodeError and others
        raise HoloTensorError(f"{path}: not a readable ONNX model ({exc})") from None
    return {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}


def read_tensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Name -> array from a `.safetensors`, `.npy` (one tensor, named by the file's stem),
    `.npz` or `.onnx` file."""
    suffix = Path(path).suffix.lower()
    if not Path(path).is_file():
        raise HoloTensorError(f"{path}: no such file")
    if suffix == ".safetensors":
        return read_safetensors(path)
    if suffix == ".onnx":
        return read_onnx_initializers(path)
    if suffix in (".npy", ".npz"):
        try:
            loaded = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise HoloTensorError(f"{path}: not a NumPy file without objects ({exc})") from None
        if suffix == ".npy":
            return {Path(path).stem: loaded}
        with loaded:
            return {name: loaded[name] for name in loaded.files}
    raise HoloTensorError(f"{path}: unknown weights format {suffix!r} (.safetensors, .npy, "
                          ".npz, .onnx)")  # fmt: skip


def write_tensors(path: str | os.PathLike, tensors: dict[str, np.ndarray]) -> None:
    """Write `tensors` as safetensors, `.npz`, or `.npy` (a single tensor)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".safetensors":
        write_safetensors(path, tensors)
    elif suffix == ".npz":
        np.savez(path, **tensors)
    elif suffix == ".npy" and len(tensors) == 1:
        np.save(path, next(iter(tensors.values())))
    else:
        raise HoloTensorError(f"{path}: write .safetensors or .npz (.npy for one tensor)")
