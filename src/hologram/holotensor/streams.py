"""Byte-level helpers shared by the encodings: zstd-coded streams inside a fragment payload,
and the exact residual that makes a lossy approximation lossless."""

from __future__ import annotations

import numpy as np
import zstandard

from hologram.holotensor.errors import HoloTensorError

RAW, ZSTD = 0, 1
ZSTD_LEVEL = 9
MAX_DECODED = 1 << 34
"""No stream decodes to more than 16 GiB: a crafted frame cannot ask for more."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def join_streams(streams: list[bytes], level: int = ZSTD_LEVEL) -> bytes:
    """Concatenate `streams`, each zstd-coded where that makes it smaller. Each is preceded by
    a LEB128 varint, `2 * length + codec` (codec 0 stored, 1 zstd): a few bytes, which count
    for the small tensors of a model."""
    out = bytearray()
    compressor = zstandard.ZstdCompressor(level=level)
    for data in streams:
        packed = compressor.compress(data) if data else b""
        codec, body = (ZSTD, packed) if len(packed) < len(data) else (RAW, data)
        out += _varint(2 * len(body) + codec) + body
    return bytes(out)


def split_streams(payload: bytes, count: int, where: str) -> list[bytes]:
    """The `count` streams of `payload` (made by `join_streams`), decoded."""
    streams, at = [], 0
    decompressor = zstandard.ZstdDecompressor()
    for number in range(count):
        tag, shift = 0, 0
        while True:
            if at >= len(payload) or shift > 56:
                raise HoloTensorError(f"{where}: stream {number} has no valid length")
            byte = payload[at]
            at += 1
            tag |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        codec, length = tag & 1, tag >> 1
        body = payload[at : at + length]
        if len(body) != length:
            raise HoloTensorError(f"{where}: stream {number} runs past the payload's end")
        at += length
        if codec == RAW:
            streams.append(bytes(body))
        else:
            try:
                streams.append(decompressor.decompress(body, max_output_size=MAX_DECODED))
            except zstandard.ZstdError as exc:
                raise HoloTensorError(f"{where}: stream {number}: bad zstd data ({exc})") from None
    if at != len(payload):
        raise HoloTensorError(f"{where}: {len(payload) - at} bytes after the last stream")
    return streams


def unpack_bits(data: bytes, count: int, where: str) -> np.ndarray:
    """`count` bits packed by `np.packbits` (most significant first), as a bool array."""
    if len(data) != (count + 7) // 8:
        raise HoloTensorError(f"{where}: {len(data)} bytes for {count} bits")
    return np.unpackbits(np.frombuffer(data, np.uint8), count=count).astype(bool)


def read_array(data: bytes, dtype: np.dtype, count: int, where: str) -> np.ndarray:
    """`count` items of `dtype` from `data`, which must hold exactly that many."""
    dtype = np.dtype(dtype)
    if len(data) != count * dtype.itemsize:
        raise HoloTensorError(f"{where}: {len(data)} bytes for {count} {dtype.name} values")
    return np.frombuffer(data, dtype).copy()


# ---------------------------------------------------------------- exact residual
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_INT = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}


def _ordered(bits: np.ndarray) -> np.ndarray:
    """Float bit patterns (as signed ints) mapped to ints in the floats' order; an involution."""
    width = bits.dtype.itemsize * 8
    return bits ^ ((bits >> (width - 1)) & np.array((1 << (width - 1)) - 1, bits.dtype))


def residual_encode(original: np.ndarray, base: np.ndarray) -> list[bytes]:
    """Streams that turn `base` into `original` bit for bit (same dtype and size): the zig-zag
    coded difference of their bit patterns in float order, one stream per byte position."""
    size = original.dtype.itemsize
    a = _ordered(np.ascontiguousarray(original).ravel().view(_INT[size])).view(_UINT[size])
    b = _ordered(np.ascontiguousarray(base).ravel().view(_INT[size])).view(_UINT[size])
    diff = (a - b).view(_INT[size])
    zigzag = ((diff << 1) ^ (diff >> (size * 8 - 1))).view(_UINT[size])
    grouped = zigzag.astype(zigzag.dtype.newbyteorder("<")).view(np.uint8).reshape(-1, size)
    return [grouped[:, k].tobytes() for k in range(size)]


def residual_decode(streams: list[bytes], base: np.ndarray, where: str) -> np.ndarray:
    """Apply the streams of `residual_encode` to `base`: the original, bit for bit."""
    size, count = base.dtype.itemsize, base.size
    if len(streams) != size or any(len(s) != count for s in streams):
        raise HoloTensorError(f"{where}: residual streams do not match {count} values")
    grouped = np.stack([np.frombuffer(s, np.uint8) for s in streams], axis=1)
    zigzag = grouped.reshape(-1).view(np.dtype(_UINT[size]).newbyteorder("<")).astype(_UINT[size])
    diff = (zigzag >> 1).view(_INT[size]) ^ -(zigzag & 1).view(_INT[size])
    b = _ordered(np.ascontiguousarray(base).ravel().view(_INT[size])).view(_UINT[size])
    bits = _ordered((b + diff.view(_UINT[size])).view(_INT[size]))
    return bits.view(base.dtype).reshape(base.shape)
