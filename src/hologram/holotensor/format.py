"""The `.htns` file: a manifest of tensor headers, a fragment index, and the fragments.

Byte layout in `SPEC.md` beside this file. `layout_bytes` writes a file; `parse_layout` reads
its header, manifest and index through any `read(offset, length)` function, so a local file,
a URL and a buffer in memory are read by the same code; `stored_fragment` checks and unpacks
one fragment's stored bytes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import xxhash
import zstandard

from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.header import EncodedTensor, Fragment, HoloTensorHeader

MAGIC = b"\x89HTNS\r\n\x1a"
FORMAT_VERSION = (1, 0)
SCHEMA = "hologram.holotensor"
HEADER = struct.Struct("<8sHHIIIQQQ8xQ")
ENTRY = struct.Struct("<QQQQIIBB6x")
HEADER_CHECKED = HEADER.size - 8
ALIGN = 64
CODEC_NONE, CODEC_ZSTD = 0, 1
ENTRY_REDUNDANT = 1
KNOWN_FILE_FLAGS = 0
KNOWN_ENTRY_FLAGS = ENTRY_REDUNDANT
MAX_MANIFEST = 1 << 30


@dataclass(frozen=True)
class IndexEntry:
    """Where one stored copy of a fragment is, and how to check and unpack it."""

    offset: int
    length: int
    raw_length: int
    checksum: int
    tensor: int
    fragment: int
    codec: int
    flags: int


@dataclass(frozen=True)
class Layout:
    """A file's parsed header, manifest and index; `truncated` when the file is shorter than
    its header says (fragments past the end are then missing)."""

    headers: tuple[HoloTensorHeader, ...]
    entries: tuple[IndexEntry, ...]
    file_length: int
    actual_length: int
    metadata: dict[str, Any]
    index_end: int = 0

    @property
    def truncated(self) -> bool:
        """Whether the file ends before `file_length`."""
        return self.actual_length < self.file_length

    def copies(self, tensor: int, fragment: int) -> list[IndexEntry]:
        """The stored copies of a fragment, primary first."""
        return [e for e in self.entries if e.tensor == tensor and e.fragment == fragment]


def entry_checksum(data: bytes | memoryview, tensor: int, fragment: int) -> int:
    """XXH3-64 of a fragment's stored bytes, seeded with `(tensor << 32) | fragment` so that
    bytes moved to another fragment's entry fail."""
    return xxhash.xxh3_64_intdigest(data, seed=(tensor << 32) | fragment)


def _align(value: int) -> int:
    return -(-value // ALIGN) * ALIGN


# ---------------------------------------------------------------- writing
def layout_chunks(
    tensors: Mapping[str, EncodedTensor],
    compress: bool = True,
    redundancy: int = 1,
    metadata: dict[str, Any] | None = None,
) -> Iterator[bytes]:
    """The bytes of a file holding `tensors`, in order. `redundancy` copies of each essential
    fragment (and of fragment 0 of encodings with none) are stored, the extra ones at the end."""
    if redundancy < 1:
        raise HoloTensorError(f"redundancy must be at least 1, not {redundancy}")
    headers, stored = [], []
    compressor = zstandard.ZstdCompressor(level=9)
    for t, (name, encoded) in enumerate(tensors.items()):
        headers.append({**encoded.header.to_json(), "name": name})
        for fragment in encoded.fragments:
            data = fragment.payload
            codec = CODEC_NONE
            if compress and data:
                packed = compressor.compress(data)
                if len(packed) < 0.99 * len(data):
                    data, codec = packed, CODEC_ZSTD
            stored.append((t, fragment.index, codec, len(fragment.payload), data))
    extra = []
    for t, encoded in enumerate(tensors.values()):
        keep = max(encoded.header.essential, 1)
        extra += [s for s in stored if s[0] == t and s[1] < keep] * (redundancy - 1)
    manifest = json.dumps(
        {"schema": SCHEMA, "version": list(FORMAT_VERSION), "metadata": metadata or {},
         "tensors": headers},
        separators=(",", ":"), allow_nan=False,
    ).encode()  # fmt: skip
    rows = stored + extra
    index_at = _align(HEADER.size + len(manifest))
    position = _align(index_at + ENTRY.size * len(rows))
    table, pieces = bytearray(), []
    for number, (t, f, codec, raw_length, data) in enumerate(rows):
        flags = ENTRY_REDUNDANT if number >= len(stored) else 0
        table += ENTRY.pack(position, len(data), raw_length, entry_checksum(data, t, f), t, f,
                            codec, flags)  # fmt: skip
        pieces.append((position, data))
        position = _align(position + len(data))
    end = pieces[-1][0] + len(pieces[-1][1]) if pieces else index_at + len(table)
    middle = manifest + bytes(index_at - HEADER.size - len(manifest)) + bytes(table)
    head = HEADER.pack(MAGIC, *FORMAT_VERSION, 0, len(headers), len(rows), len(manifest), end,
                       xxhash.xxh3_64_intdigest(middle), 0)  # fmt: skip
    checked = head[:HEADER_CHECKED]
    yield checked + xxhash.xxh3_64_intdigest(checked).to_bytes(8, "little")
    yield middle
    at = HEADER.size + len(middle)
    for offset, data in pieces:
        yield bytes(offset - at)
        yield data
        at = offset + len(data)


# ---------------------------------------------------------------- reading
def parse_layout(read: Callable[[int, int], bytes], actual_length: int, where: str) -> Layout:
    """Check and parse a file's header, manifest and index, reading through `read`.

    Raises `HoloTensorError` naming `where` and the byte offset for anything wrong before the
    first fragment; a file cut short after the index parses (`Layout.truncated`), so that the
    fragments it still holds can be used.
    """
    if actual_length < HEADER.size:
        raise HoloTensorError(f"{where}: {actual_length} bytes, too short for the header")
    head = read(0, HEADER.size)
    magic, major, minor, flags, tensors, count, manifest_length, file_length, table_sum, check = (
        HEADER.unpack(head)
    )
    if magic != MAGIC:
        raise HoloTensorError(f"{where}: offset 0: not a HoloTensor file (bad magic)")
    if xxhash.xxh3_64_intdigest(head[:HEADER_CHECKED]) != check:
        raise HoloTensorError(f"{where}: offset 56: header checksum mismatch")
    if major != FORMAT_VERSION[0]:
        raise HoloTensorError(
            f"{where}: offset 8: format version {major}.{minor}, this reader reads "
            f"{FORMAT_VERSION[0]}.x"
        )
    if flags & ~KNOWN_FILE_FLAGS:
        raise HoloTensorError(f"{where}: offset 12: unknown file flags {flags:#x}")
    index_at = _align(HEADER.size + manifest_length)
    index_end = index_at + ENTRY.size * count
    if manifest_length > MAX_MANIFEST or index_end > min(file_length, actual_length):
        raise HoloTensorError(
            f"{where}: offset 24: manifest and index end at byte {index_end}, the file has "
            f"{actual_length} of {file_length}"
        )
    middle = read(HEADER.size, index_end - HEADER.size)
    if xxhash.xxh3_64_intdigest(middle) != table_sum:
        raise HoloTensorError(f"{where}: offset 40: manifest and index checksum mismatch")
    headers, metadata = _manifest(middle[:manifest_length], tensors, where)
    entries = _entries(middle[index_at - HEADER.size :], count, headers, index_end, where)
    last = max((e.offset + e.length for e in entries), default=index_end)
    if last != file_length:
        raise HoloTensorError(f"{where}: offset 32: file_length {file_length}, data ends {last}")
    if actual_length > file_length:
        raise HoloTensorError(
            f"{where}: {actual_length - file_length} bytes after the end ({file_length})"
        )
    return Layout(tuple(headers), tuple(entries), file_length, actual_length, metadata, index_end)


def _manifest(raw: bytes, tensors: int, where: str) -> tuple[list[HoloTensorHeader], dict]:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise HoloTensorError(f"{where}: offset 64: manifest is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise HoloTensorError(f"{where}: manifest: schema is not {SCHEMA!r}")
    version = doc.get("version")
    if not isinstance(version, list) or len(version) != 2 or version[0] != FORMAT_VERSION[0]:
        raise HoloTensorError(f"{where}: manifest: unsupported version {version!r}")
    items = doc.get("tensors")
    if not isinstance(items, list) or len(items) != tensors:
        raise HoloTensorError(f"{where}: manifest: tensors must list the {tensors} tensors")
    headers = [HoloTensorHeader.from_json(t, f"{where}: manifest.tensors[{i}]")
               for i, t in enumerate(items)]  # fmt: skip
    if len({h.name for h in headers}) != len(headers):
        raise HoloTensorError(f"{where}: manifest: tensor names are not unique")
    metadata = doc.get("metadata", {})
    if not isinstance(metadata, dict):
        raise HoloTensorError(f"{where}: manifest.metadata: must be an object")
    return headers, metadata


def _entries(
    table: bytes, count: int, headers: list[HoloTensorHeader], start: int, where: str
) -> list[IndexEntry]:
    entries, position, seen = [], start, set()
    for number in range(count):
        entry = IndexEntry(*ENTRY.unpack_from(table, number * ENTRY.size))
        at = f"{where}: index entry {number}"
        if entry.tensor >= len(headers):
            raise HoloTensorError(f"{at}: tensor {entry.tensor} does not exist")
        header = headers[entry.tensor]
        if entry.fragment >= header.fragments:
            raise HoloTensorError(f"{at}: fragment {entry.fragment} of tensor {header.name!r} "
                                  f"does not exist ({header.fragments} fragments)")  # fmt: skip
        if entry.codec not in (CODEC_NONE, CODEC_ZSTD) or entry.flags & ~KNOWN_ENTRY_FLAGS:
            raise HoloTensorError(f"{at}: unknown codec {entry.codec} or flags {entry.flags:#x}")
        if entry.raw_length != header.fragment_size(entry.fragment) or (
            entry.codec == CODEC_NONE and entry.length != entry.raw_length
        ):
            raise HoloTensorError(f"{at}: lengths do not match fragment {entry.fragment}")
        if entry.offset % ALIGN or entry.offset < position:
            raise HoloTensorError(f"{at}: offset {entry.offset} is unaligned or out of order")
        key = (entry.tensor, entry.fragment)
        if (key in seen) != bool(entry.flags & ENTRY_REDUNDANT):
            raise HoloTensorError(f"{at}: a copy must follow its fragment's primary entry")
        seen.add(key)
        position = entry.offset + entry.length
        entries.append(entry)
    return entries


def stored_fragment(entry: IndexEntry, data: bytes) -> Fragment | str:
    """The fragment an entry's stored bytes hold, or why they cannot be used."""
    if len(data) != entry.length:
        return f"truncated: {len(data)} of {entry.length} bytes at offset {entry.offset}"
    if entry_checksum(data, entry.tensor, entry.fragment) != entry.checksum:
        return f"checksum mismatch at offset {entry.offset}"
    if entry.codec == CODEC_ZSTD:
        try:
            data = zstandard.ZstdDecompressor().decompress(data, max_output_size=entry.raw_length)
        except zstandard.ZstdError as exc:
            return f"bad zstd data at offset {entry.offset} ({exc})"
        if len(data) != entry.raw_length:
            return f"decodes to {len(data)} bytes, expected {entry.raw_length}"
    return Fragment(entry.fragment, bytes(data))
