"""The `.holo` container: named, typed, checksummed, aligned byte sections in one file.

    writer = ContainerWriter()
    writer.add("manifest", "bundle.manifest", b"{...}")
    writer.add("weights/0", "tensor", array)          # anything with the buffer protocol
    writer.write("model.holo")

    with Container.open("model.holo") as holo:
        view = holo.read("weights/0")                  # zero-copy memoryview of the mapping

The byte layout is specified in `SPEC.md` beside this file. The header and section table are
checked when a file is opened; a payload's XXH3-64 checksum when it is first read (or all of
them up front with `verify=True`). Every problem raises `ArtifactError` naming the file and the
byte offset or section at fault.

Opening a file reads its header and table with plain reads and maps the file only when a
payload is first viewed (`read`): a model's opening reads its manifest as a copy
(`read_copy`) and leaves mapping, and unmapping, to its first run, which needs the weights.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from hologram.errors import ArtifactError

MAGIC = b"\x89HOLO\r\n\x1a"
FORMAT_VERSION = (1, 0)
"""(major, minor) written; readers accept the same major and any minor."""
KNOWN_FLAGS = 0
"""File flag bits this reader understands (version 1.0 defines none)."""
KNOWN_SECTION_FLAGS = 0
"""Section flag bits this reader understands (version 1.0 defines none)."""
DEFAULT_ALIGNMENT = 64
MAX_ALIGN_LOG2 = 16
CODEC_NONE = 0

HEADER = struct.Struct("<8sHHIIIQQ16xQ")
ENTRY = struct.Struct("<QQQQIIHHBBH16x")
HEADER_CHECKED = HEADER.size - 8
"""The header checksum covers the header up to the checksum itself."""
MAX_STRING = 0xFFFF
FIRST_READ = 4096
"""Bytes read when a file is opened: the header and, for most files, the whole table."""


def checksum(data: Any) -> int:
    """The XXH3-64 (seed 0) of a bytes-like object, as the container stores it."""
    return xxhash.xxh3_64_intdigest(data)


@dataclass(frozen=True)
class SectionInfo:
    """One entry of the section table: where a payload is and what it holds."""

    name: str
    kind: str
    offset: int
    length: int
    checksum: int
    alignment: int
    codec: int = CODEC_NONE


# ---------------------------------------------------------------- writing
@dataclass(frozen=True)
class _Pending:
    name: bytes
    kind: bytes
    data: memoryview
    align_log2: int


class ContainerWriter:
    """Collects sections, then lays them out and writes a `.holo` file (or its bytes)."""

    def __init__(self, flags: int = 0) -> None:
        if flags & ~KNOWN_FLAGS:
            raise ArtifactError(f"unknown container flags {flags:#x}")
        self.flags = flags
        self._sections: list[_Pending] = []
        self._names: set[bytes] = set()

    def add(self, name: str, kind: str, data: Any, alignment: int = DEFAULT_ALIGNMENT) -> None:
        """Add section `name` of `kind` holding `data` (bytes or any C-contiguous buffer).

        The data is referenced, not copied, until the file is written: do not change it before.
        """
        encoded_name, encoded_kind = _encode_string(name, "name"), _encode_string(kind, "kind")
        if encoded_name in self._names:
            raise ArtifactError(f"duplicate section name {name!r}")
        if alignment < 1 or alignment & (alignment - 1) or alignment > 1 << MAX_ALIGN_LOG2:
            raise ArtifactError(
                f"section {name!r}: alignment {alignment} is not a power of two "
                f"from 1 to {1 << MAX_ALIGN_LOG2}"
            )
        try:
            view = memoryview(data).cast("B")
        except TypeError as exc:
            raise ArtifactError(
                f"section {name!r}: data must be C-contiguous bytes or a buffer ({exc})"
            ) from None
        self._names.add(encoded_name)
        self._sections.append(
            _Pending(encoded_name, encoded_kind, view, alignment.bit_length() - 1)
        )

    def _chunks(self) -> Iterator[bytes | memoryview]:
        """The file's bytes, in order: header, table, strings, then padded payloads."""
        strings = bytearray()
        string_at: dict[bytes, int] = {}

        def place(text: bytes) -> int:
            if text not in string_at:
                string_at[text] = len(strings)
                strings.extend(text)
            return string_at[text]

        spans = [(place(s.name), place(s.kind)) for s in self._sections]
        position = HEADER.size + ENTRY.size * len(self._sections) + len(strings)
        table = bytearray()
        layout = []
        for section, (name_at, kind_at) in zip(self._sections, spans, strict=True):
            offset = _align_up(position, 1 << section.align_log2)
            length = len(section.data)
            table += ENTRY.pack(
                offset, length, checksum(section.data), length, name_at, kind_at,
                len(section.name), len(section.kind), section.align_log2, CODEC_NONE, 0,
            )  # fmt: skip
            layout.append((offset - position, section.data))
            position = offset + length
        table += strings
        header = HEADER.pack(
            MAGIC, *FORMAT_VERSION, self.flags, len(self._sections), len(strings),
            position, checksum(table), 0,
        )  # fmt: skip
        header = header[:HEADER_CHECKED] + struct.pack("<Q", checksum(header[:HEADER_CHECKED]))
        yield header
        yield bytes(table)
        for padding, data in layout:
            if padding:
                yield bytes(padding)
            yield data

    def to_bytes(self) -> bytes:
        """The whole file as bytes."""
        return b"".join(self._chunks())

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the file to `path`, atomically: readers see the old file or the new one."""
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as file:
                    for chunk in self._chunks():
                        file.write(chunk)
                # mkstemp makes the file private (0600); a build output is readable by all.
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as exc:
            raise ArtifactError(f"{target}: cannot write: {exc}") from None
        return target


def write_container(
    path: str | os.PathLike[str], sections: list[tuple[str, str, Any]], flags: int = 0
) -> Path:
    """Write `(name, kind, data)` sections to a `.holo` file at `path`."""
    writer = ContainerWriter(flags)
    for name, kind, data in sections:
        writer.add(name, kind, data)
    return writer.write(path)


def _encode_string(text: str, what: str) -> bytes:
    if not isinstance(text, str) or not text:
        raise ArtifactError(f"section {what} must be a non-empty string, got {text!r}")
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ArtifactError(f"section {what} {text!r} is not encodable as UTF-8: {exc}") from None
    if len(encoded) > MAX_STRING:
        raise ArtifactError(f"section {what} {text[:40]!r}... is over {MAX_STRING} bytes")
    return encoded


def _align_up(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


# ---------------------------------------------------------------- reading
class Container:
    """A `.holo` file opened for reading: its sections as zero-copy memoryviews."""

    def __init__(self, data: Any, source: str = "<bytes>", verify: bool = False) -> None:
        """Read the container held by `data` (bytes, mmap or any buffer); `source` names it
        in errors. Raises `ArtifactError` if the header or section table is invalid."""
        self.source = source
        self._mapping: mmap.mmap | None = None
        self._file: _Descriptor | None = None
        """An opened file not mapped yet (see `open`)."""
        try:
            view = memoryview(data).cast("B").toreadonly()
        except TypeError as exc:
            raise ArtifactError(
                f"{source}: expected bytes or a C-contiguous buffer ({exc})"
            ) from None
        self._data: memoryview | None = view
        self._verified: set[str] = set()
        try:
            self._structure(view, len(view))
        except ArtifactError:
            # Release the view now, so a mapping behind it can be closed by the caller.
            view.release()
            raise
        if verify:
            self.verify()

    def _structure(self, data: memoryview, size: int) -> None:
        """Parse the header and table (`data` holds at least them, of a `size`-byte file)."""
        self.version, self.flags, self.sections, self._structure_end = self._parse(data, size)
        self._size = size
        self._by_name = {s.name: s for s in self.sections}

    @classmethod
    def open(cls, path: str | os.PathLike[str], verify: bool = False) -> Container:
        """Open the file at `path` and read its header and table; the file is mapped when a
        payload is first viewed (`read`), and checked then to be the file that was opened."""
        source = str(path)
        try:
            file = _Descriptor(os.open(path, _OPEN_FLAGS))
        except OSError as exc:
            raise ArtifactError(f"{source}: cannot open: {exc}") from None
        container = cls.__new__(cls)
        container.source = source
        container._mapping = None
        container._file = file
        container._data = None
        container._verified = set()
        try:
            size = os.fstat(file.fileno()).st_size
            if size == 0:
                raise ArtifactError(f"{source}: empty file, not a .holo container")
            first = file.read_at(0, min(size, FIRST_READ))
            if len(first) >= HEADER.size:
                count, strings_length = struct.unpack_from("<II", first, 16)
                wanted = min(size, HEADER.size + ENTRY.size * count + strings_length)
                if wanted > len(first):  # a table larger than the first read
                    first = file.read_at(0, wanted)
            container._structure(memoryview(first), size)
            container._structure_bytes = first[: container._structure_end]
            if verify:
                container.verify()
        except OSError as exc:
            file.close()
            raise ArtifactError(f"{source}: cannot read: {exc}") from None
        except BaseException:
            container.close()
            raise
        return container

    # ------------------------------------------------------------ structure
    def _error(self, message: str, at: int | None = None) -> ArtifactError:
        where = f"{self.source}: byte {at}: " if at is not None else f"{self.source}: "
        return ArtifactError(where + message)

    def _parse(
        self, data: memoryview, size: int
    ) -> tuple[tuple[int, int], int, tuple[SectionInfo, ...], int]:
        if size < HEADER.size or len(data) < HEADER.size:
            raise self._error(f"truncated: {size} bytes, the header alone is {HEADER.size}")
        magic, major, minor, flags, count, strings_length, file_length, table_sum, header_sum = (
            HEADER.unpack_from(data)
        )
        if magic != MAGIC:
            raise self._error(f"bad magic {bytes(magic)!r}, not a .holo container", 0)
        if major != FORMAT_VERSION[0]:
            raise self._error(
                f"format version {major}.{minor} is not readable by this reader "
                f"({FORMAT_VERSION[0]}.x)",
                8,
            )
        if header_sum != checksum(data[:HEADER_CHECKED]):
            raise self._error("header checksum mismatch (corrupt header)", HEADER_CHECKED)
        if flags & ~KNOWN_FLAGS:
            raise self._error(f"unknown file flags {flags:#x}", 12)
        if file_length != size:
            raise self._error(
                f"the header says the file is {file_length} bytes but it is {size} "
                f"({'truncated' if size < file_length else 'extra bytes at the end'})",
                24,
            )
        table_end = HEADER.size + ENTRY.size * count
        strings_end = table_end + strings_length
        if strings_end > size or strings_end > len(data):
            raise self._error(
                f"truncated: {count} sections and {strings_length} bytes of strings need "
                f"{strings_end} bytes, the file has {size}",
                16,
            )
        if table_sum != checksum(data[HEADER.size : strings_end]):
            raise self._error("section table checksum mismatch (corrupt table)", HEADER.size)
        strings = bytes(data[table_end:strings_end])
        sections = []
        seen: set[str] = set()
        position = strings_end
        for index in range(count):
            at = HEADER.size + ENTRY.size * index
            section = self._entry(data, size, index, strings, position)
            if section.name in seen:
                raise self._error(f"section {index}: duplicate name {section.name!r}", at)
            seen.add(section.name)
            sections.append(section)
            position = section.offset + section.length
        if position != size:
            raise self._error(f"{size - position} bytes after the last section", position)
        return (major, minor), flags, tuple(sections), strings_end

    def _entry(
        self, data: memoryview, size: int, index: int, strings: bytes, start: int
    ) -> SectionInfo:
        """Table entry `index` (of a `size`-byte file), whose payload must start at or after
        byte `start`."""
        at = HEADER.size + ENTRY.size * index
        (offset, length, payload_sum, raw_length, name_at, kind_at, name_length, kind_length,
         align_log2, codec, section_flags) = ENTRY.unpack_from(data, at)  # fmt: skip

        def text(begin: int, length: int, what: str) -> str:
            if length == 0:
                raise self._error(f"section {index}: {what} is empty", at)
            if begin + length > len(strings):
                raise self._error(f"section {index}: {what} lies outside the string table", at)
            try:
                return strings[begin : begin + length].decode("utf-8")
            except UnicodeDecodeError:
                raise self._error(f"section {index}: {what} is not valid UTF-8", at) from None

        name = text(name_at, name_length, "name")
        kind = text(kind_at, kind_length, "kind")
        where = f"section {index} ({name!r})"
        if align_log2 > MAX_ALIGN_LOG2:
            raise self._error(f"{where}: alignment 2**{align_log2} is over 2**16", at + 44)
        alignment = 1 << align_log2
        if offset % alignment:
            raise self._error(f"{where}: offset {offset} is not {alignment}-aligned", at)
        if offset < start:
            raise self._error(
                f"{where}: offset {offset} overlaps what comes before it (ends at {start})", at
            )
        if offset + length > size:
            raise self._error(
                f"{where}: {length} bytes at offset {offset} run past the end of the file "
                f"({size} bytes)",
                at,
            )
        if section_flags & ~KNOWN_SECTION_FLAGS:
            raise self._error(f"{where}: unknown section flags {section_flags:#x}", at + 46)
        if codec != CODEC_NONE:
            raise self._error(f"{where}: compression codec {codec} is not supported", at + 45)
        if raw_length != length:
            raise self._error(
                f"{where}: raw length {raw_length} differs from its stored length {length}",
                at + 24,
            )
        return SectionInfo(name, kind, offset, length, payload_sum, alignment, codec)

    # ------------------------------------------------------------ sections
    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self.sections)

    def names(self) -> list[str]:
        """The section names, in file order."""
        return [s.name for s in self.sections]

    def info(self, name: str) -> SectionInfo:
        """The table entry of section `name`."""
        try:
            return self._by_name[name]
        except KeyError:
            raise self._error(f"no section named {name!r}") from None

    def of_kind(self, kind: str) -> list[SectionInfo]:
        """The sections of one kind, in file order."""
        return [s for s in self.sections if s.kind == kind]

    def read(self, name: str) -> memoryview:
        """Section `name`'s payload: a read-only, zero-copy view, its checksum checked once."""
        section = self.info(name)
        view = self._view(section)
        if name not in self._verified:
            if checksum(view) != section.checksum:
                view.release()
                raise self._error(
                    f"section {name!r}: payload checksum mismatch (corrupt data)", section.offset
                )
            self._verified.add(name)
        return view

    def read_copy(self, name: str) -> bytes:
        """Section `name`'s payload as bytes, its checksum checked: read from the file without
        mapping it when it is not mapped yet."""
        if self._data is not None or self._file is None:
            with self.read(name) as view:
                return bytes(view)
        section = self.info(name)
        try:
            payload = self._file.read_at(section.offset, section.length)
        except OSError as exc:
            raise self._error(f"section {name!r}: cannot read: {exc}", section.offset) from None
        if len(payload) != section.length:
            raise self._error(f"section {name!r}: the file was truncated", section.offset)
        if checksum(payload) != section.checksum:
            raise self._error(
                f"section {name!r}: payload checksum mismatch (corrupt data)", section.offset
            )
        return payload

    def read_unchecked(self, name: str) -> memoryview:
        """Section `name`'s payload without its checksum checked: only for diagnosing a section
        whose `read` failed (to say which part of it is corrupt)."""
        return self._view(self.info(name))

    def verify(self) -> None:
        """Check every payload's checksum now (`read` checks each on first use anyway)."""
        for section in self.sections:
            self.read(section.name)

    def _view(self, section: SectionInfo) -> memoryview:
        if self._data is None:
            self._map()
        return self._data[section.offset : section.offset + section.length]  # type: ignore[index]

    def _map(self) -> None:
        """Map the opened file, which must still hold the header and table read at opening."""
        file = self._file
        if file is None:
            raise self._error("the container is closed")
        try:
            mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise self._error(f"cannot map: {exc}") from None
        view = memoryview(mapping)
        if len(view) != self._size or view[: self._structure_end] != self._structure_bytes:
            view.release()
            mapping.close()
            raise self._error("the file changed since it was opened")
        self._data, self._mapping, self._file = view, mapping, None
        file.close()

    # ------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Release the file. Views still held elsewhere keep the mapping alive until dropped."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._data is None:
            return
        self._data.release()
        self._data = None
        if self._mapping is not None:
            # A caller may still hold a section view: then the mapping closes when it is freed.
            with contextlib.suppress(BufferError):
                self._mapping.close()
            self._mapping = None

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        major, minor = self.version
        return f"<Container {self.source} v{major}.{minor}, {len(self.sections)} sections>"


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


class _Descriptor:
    """An open file descriptor, closed with its owner (a bare descriptor is the cheapest way
    to read a few blocks of a file: opening models is timed against other runtimes)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        """The descriptor."""
        return self.fd

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer only at the end of the file)."""
        if hasattr(os, "pread"):
            return os.pread(self.fd, length, offset)
        os.lseek(self.fd, offset, os.SEEK_SET)
        return os.read(self.fd, length)

    def close(self) -> None:
        """Close the descriptor (once)."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def __del__(self) -> None:
        self.close()


def open_container(path: str | os.PathLike[str], verify: bool = False) -> Container:
    """`Container.open(path, verify)`: open a `.holo` file for reading."""
    return Container.open(path, verify=verify)
