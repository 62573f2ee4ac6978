"""The `.holo` container: round trips, the byte layout of SPEC.md, and adversarial files."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import numpy as np
import pytest
import xxhash

from hologram.artifact.container import (
    ENTRY,
    FORMAT_VERSION,
    HEADER,
    MAGIC,
    Container,
    ContainerWriter,
    write_container,
)
from hologram.errors import ArtifactError

HEADER_CHECKED = 56


def sample_sections(rng: np.random.Generator) -> list[tuple[str, str, bytes, int]]:
    """Sections of awkward sizes around the alignment, one of them page-aligned."""
    sizes = (0, 1, 63, 64, 65, 1000)
    sections = [
        (f"part/{k}", "blob" if k % 2 else "tensor", rng.bytes(size), 64)
        for k, size in enumerate(sizes)
    ]
    sections.append(("größe ✓", "text", b"unicode names", 4096))
    return sections


def build(sections: list[tuple[str, str, bytes, int]]) -> bytes:
    writer = ContainerWriter()
    for name, kind, data, alignment in sections:
        writer.add(name, kind, data, alignment)
    return writer.to_bytes()


@pytest.fixture
def sections(rng: np.random.Generator) -> list[tuple[str, str, bytes, int]]:
    return sample_sections(rng)


@pytest.fixture
def blob(sections: list[tuple[str, str, bytes, int]]) -> bytes:
    return build(sections)


def read_all(data: bytes) -> dict[str, bytes]:
    """Every section's payload; raises ArtifactError on any problem (checksums included)."""
    container = Container(data)
    return {name: bytes(container.read(name)) for name in container.names()}


def reseal(data: bytes | bytearray) -> bytes:
    """`data` with its table and header checksums recomputed, so only the structure is judged."""
    out = bytearray(data)
    count, strings_length = struct.unpack_from("<II", out, 16)
    table_end = min(len(out), 64 + 64 * count + strings_length)
    struct.pack_into("<Q", out, 32, xxhash.xxh3_64_intdigest(bytes(out[64:table_end])))
    struct.pack_into("<Q", out, 56, xxhash.xxh3_64_intdigest(bytes(out[:HEADER_CHECKED])))
    return bytes(out)


def entry_offset(index: int) -> int:
    return HEADER.size + ENTRY.size * index


# ---------------------------------------------------------------- round trips and layout
def test_round_trip_in_memory(sections: list[tuple[str, str, bytes, int]], blob: bytes) -> None:
    container = Container(blob, verify=True)
    assert container.version == FORMAT_VERSION and container.flags == 0
    assert container.names() == [name for name, *_ in sections]
    for name, kind, data, alignment in sections:
        info = container.info(name)
        assert (info.kind, info.length, info.alignment) == (kind, len(data), alignment)
        assert info.offset % alignment == 0
        assert bytes(container.read(name)) == data
    assert [s.name for s in container.of_kind("blob")] == ["part/1", "part/3", "part/5"]
    assert "part/0" in container and "missing" not in container and len(container) == 7


def test_file_round_trip_is_zero_copy_and_aligned(
    tmp_path: Path, sections: list[tuple[str, str, bytes, int]]
) -> None:
    path = write_container(tmp_path / "a.holo", [(n, k, d) for n, k, d, _ in sections])
    with Container.open(path) as container:
        for name, _, data, _ in sections:
            view = container.read(name)
            assert view.readonly and bytes(view) == data
            if data:
                # The mapping is page-aligned, so a 64-aligned offset is a 64-aligned address.
                assert np.frombuffer(view, np.uint8).ctypes.data % 64 == 0
        held = container.read("part/5")
    # A view outlives the container: the mapping closes when the view is dropped.
    assert bytes(held) == sections[5][2]
    assert path.stat().st_mode & 0o777 == 0o644


def test_layout_follows_the_spec(blob: bytes, sections: list[tuple[str, str, bytes, int]]) -> None:
    assert blob[:8] == b"\x89HOLO\r\n\x1a" == MAGIC
    major, minor, flags, count, strings_length, file_length, table_sum = struct.unpack_from(
        "<HHIIIQQ", blob, 8
    )
    assert (major, minor, flags, count, file_length) == (1, 0, 0, len(sections), len(blob))
    assert blob[40:56] == bytes(16)
    strings_start = 64 + 64 * count
    strings = blob[strings_start : strings_start + strings_length]
    assert table_sum == xxhash.xxh3_64_intdigest(blob[64 : strings_start + strings_length])
    assert struct.unpack_from("<Q", blob, 56)[0] == xxhash.xxh3_64_intdigest(blob[:56])
    previous_end = strings_start + strings_length
    for index, (name, kind, data, alignment) in enumerate(sections):
        offset, length, payload_sum, raw, name_at, kind_at, name_len, kind_len, log2, codec = (
            struct.unpack_from("<QQQQIIHHBB", blob, 64 + 64 * index)
        )
        assert strings[name_at : name_at + name_len].decode() == name
        assert strings[kind_at : kind_at + kind_len].decode() == kind
        assert (length, raw, 1 << log2, codec) == (len(data), len(data), alignment, 0)
        assert offset % alignment == 0 and offset >= previous_end
        assert blob[previous_end:offset] == bytes(offset - previous_end)  # zero padding
        assert blob[offset : offset + length] == data
        assert payload_sum == xxhash.xxh3_64_intdigest(data)
        previous_end = offset + length
    assert previous_end == len(blob)


def test_empty_container_and_buffers_of_any_shape() -> None:
    assert Container(ContainerWriter().to_bytes()).names() == []
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    writer = ContainerWriter()
    writer.add("array", "tensor", array)
    view = Container(writer.to_bytes()).read("array")
    np.testing.assert_array_equal(np.frombuffer(view, np.float32).reshape(3, 4), array)


def test_writer_rejects_bad_sections(tmp_path: Path) -> None:
    writer = ContainerWriter()
    writer.add("a", "k", b"x")
    for name, kind, data, alignment in [
        ("a", "k", b"", 64),  # duplicate name
        ("", "k", b"", 64),
        ("b", "", b"", 64),
        ("b", "k", b"", 48),
        ("b", "k", b"", 1 << 17),
        ("b", "k", np.arange(8)[::2], 64),  # not contiguous
        ("x" * 70000, "k", b"", 64),
    ]:
        with pytest.raises(ArtifactError):
            writer.add(name, kind, data, alignment)
    with pytest.raises(ArtifactError):
        ContainerWriter(flags=1)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ArtifactError, match="cannot write"):
        writer.write(tmp_path / "file" / "a.holo")


def test_open_errors_are_artifact_errors(tmp_path: Path, blob: bytes) -> None:
    with pytest.raises(ArtifactError, match="cannot open"):
        Container.open(tmp_path / "missing.holo")
    (tmp_path / "empty.holo").write_bytes(b"")
    with pytest.raises(ArtifactError, match="empty"):
        Container.open(tmp_path / "empty.holo")
    container = Container(blob)
    with pytest.raises(ArtifactError, match="no section"):
        container.read("missing")
    container.close()
    with pytest.raises(ArtifactError, match="closed"):
        container.read("part/1")


# ---------------------------------------------------------------- checksums
def test_payload_checksum_is_checked_on_first_read(blob: bytes) -> None:
    container = Container(blob)
    offset = container.info("part/2").offset
    corrupt = bytearray(blob)
    corrupt[offset + 5] ^= 0x10
    lazy = Container(bytes(corrupt))  # the header and table are intact: opening succeeds
    assert bytes(lazy.read("part/1")) == bytes(container.read("part/1"))
    with pytest.raises(ArtifactError, match=f"byte {offset}: section 'part/2'"):
        lazy.read("part/2")
    with pytest.raises(ArtifactError, match="checksum"):
        Container(bytes(corrupt), verify=True)


def test_every_bit_flip_in_header_and_table_is_caught_at_open(blob: bytes) -> None:
    count, strings_length = struct.unpack_from("<II", blob, 16)
    structure_end = 64 + 64 * count + strings_length
    for position in range(structure_end):
        for bit in (0, 3, 7):
            corrupt = bytearray(blob)
            corrupt[position] ^= 1 << bit
            with pytest.raises(ArtifactError):
                Container(bytes(corrupt))


def test_payload_bit_flips_are_caught_or_harmless(blob: bytes, rng: np.random.Generator) -> None:
    original = read_all(blob)
    count, strings_length = struct.unpack_from("<II", blob, 16)
    for position in rng.integers(64 + 64 * count + strings_length, len(blob), size=200):
        corrupt = bytearray(blob)
        corrupt[position] ^= 1 << int(rng.integers(8))
        with contextlib.suppress(ArtifactError):
            assert read_all(bytes(corrupt)) == original  # only padding may change unnoticed


# ---------------------------------------------------------------- truncation
def test_truncation_at_every_boundary_and_random_points(
    blob: bytes, rng: np.random.Generator, tmp_path: Path
) -> None:
    container = Container(blob)
    cuts = {0, 1, 7, 8, 63, 64, 64 + 64 * len(container) - 1, len(blob) - 1}
    for section in container.sections:
        cuts |= {section.offset, section.offset + section.length, section.offset + 1}
    cuts |= set(rng.integers(0, len(blob), size=50).tolist())
    for cut in sorted(c for c in cuts if c < len(blob)):
        with pytest.raises(ArtifactError):
            Container(blob[:cut])
    with pytest.raises(ArtifactError, match="extra bytes"):
        Container(blob + b"\0")
    for cut in (10, container.sections[-1].offset):
        (tmp_path / "cut.holo").write_bytes(blob[:cut])
        with pytest.raises(ArtifactError, match="truncated"):
            Container.open(tmp_path / "cut.holo")


# ---------------------------------------------------------------- crafted files
def with_field(blob: bytes, offset: int, fmt: str, value: int) -> bytes:
    """`blob` with one field replaced and the checksums made right again."""
    out = bytearray(blob)
    struct.pack_into(fmt, out, offset, value)
    return reseal(out)


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (8, "<H", 2, "format version 2.0"),
        (8, "<H", 0, "format version 0.0"),
        (12, "<I", 1, "unknown file flags"),
        (16, "<I", 0xFFFFFFFF, "truncated"),
        (20, "<I", 0xFFFFFFFF, "truncated"),
        (24, "<Q", 2**64 - 1, "says the file is"),
        (entry_offset(1), "<Q", 2**64 - 64, "run past the end"),
        (entry_offset(1) + 8, "<Q", 2**64 - 1, "run past the end"),
        (entry_offset(1), "<Q", 65, "not 64-aligned"),
        (entry_offset(2), "<Q", 64, "overlaps"),
        (entry_offset(1) + 24, "<Q", 12345, "raw length"),
        (entry_offset(1) + 32, "<I", 0xFFFFFFF0, "outside the string table"),
        (entry_offset(1) + 40, "<H", 0, "name is empty"),
        (entry_offset(1) + 42, "<H", 0xFFFF, "kind lies outside"),
        (entry_offset(1) + 44, "<B", 200, "alignment"),
        (entry_offset(1) + 45, "<B", 1, "compression codec 1"),
        (entry_offset(1) + 46, "<H", 4, "unknown section flags"),
    ],
)
def test_crafted_fields_are_refused(
    blob: bytes, offset: int, fmt: str, value: int, message: str
) -> None:
    with pytest.raises(ArtifactError, match=message):
        Container(with_field(blob, offset, fmt, value))


def test_bad_magic_duplicate_names_and_bad_utf8() -> None:
    writer = ContainerWriter()
    writer.add("aa", "k", b"1")
    writer.add("ab", "k", b"2")
    blob = writer.to_bytes()
    with pytest.raises(ArtifactError, match="bad magic"):
        Container(b"HOLX" + blob[4:])
    strings_start = 64 + 64 * 2
    duplicate = bytearray(blob)
    duplicate[strings_start + 4] = ord("a")  # strings "aa" "k" "ab": "ab" becomes "aa"
    with pytest.raises(ArtifactError, match="duplicate name 'aa'"):
        Container(reseal(duplicate))
    renamed = with_field(blob, entry_offset(1) + 32, "<I", 0)  # entry 1 now names "aa" too
    with pytest.raises(ArtifactError, match="duplicate name 'aa'"):
        Container(renamed)
    bad_utf8 = bytearray(blob)
    bad_utf8[strings_start] = 0xFF
    with pytest.raises(ArtifactError, match="UTF-8"):
        Container(reseal(bad_utf8))


def test_newer_minor_version_is_read(blob: bytes) -> None:
    newer = with_field(blob, 10, "<H", 7)
    assert Container(newer).version == (1, 7)
    assert read_all(newer) == read_all(blob)


# ---------------------------------------------------------------- fuzzing
def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random damage: bit flips, overwritten bytes, a cut, an insertion or a deletion."""
    out = bytearray(data)
    choice = int(rng.integers(5))
    if choice == 0:
        for _ in range(int(rng.integers(1, 4))):
            out[int(rng.integers(len(out)))] ^= 1 << int(rng.integers(8))
    elif choice == 1:
        start = int(rng.integers(len(out)))
        out[start : start + 8] = rng.bytes(len(out[start : start + 8]))
    elif choice == 2:
        del out[int(rng.integers(len(out))) :]
    elif choice == 3:
        at = int(rng.integers(len(out)))
        out[at:at] = rng.bytes(int(rng.integers(1, 80)))
    else:
        at = int(rng.integers(len(out)))
        del out[at : at + int(rng.integers(1, 80))]
    return bytes(out)


def test_fuzzed_files_raise_artifact_error_or_read_back_intact() -> None:
    rng = np.random.default_rng(20240611)
    blob = build(sample_sections(rng))
    original = read_all(blob)
    for _ in range(400):
        damaged = mutate(blob, rng)
        with contextlib.suppress(ArtifactError):
            assert read_all(damaged) == original
        # With the checksums recomputed, the structural checks alone must hold the line.
        with contextlib.suppress(ArtifactError):
            read_all(reseal(damaged) if len(damaged) >= 64 else damaged)
