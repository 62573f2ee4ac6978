"""The file format: round trips, and every corruption detected and reported (bit flips,
truncation, reordered and missing fragments), with a fuzz test of the reader."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hologram.holotensor import (
    EncodedTensor,
    HoloTensorEncoder,
    HoloTensorError,
    HoloTensorFile,
    decode_from_file,
    decode_from_file_progressive,
    encode_to_file,
    read_holotensor,
    write_holotensor,
)
from hologram.holotensor.format import ENTRY, HEADER, entry_checksum


def sample(rng: np.random.Generator, redundancy: int = 1) -> tuple[bytes, np.ndarray]:
    w = (rng.standard_normal((16, 64)) * 0.1).astype(np.float32)
    tensors = {
        "w": HoloTensorEncoder("bitplane").with_fragments(5).encode(w),
        "b": HoloTensorEncoder("raw").encode(np.arange(3, dtype=np.int32)),
    }
    return write_holotensor(None, tensors, redundancy=redundancy), w  # type: ignore[return-value]


def problems_of(data: bytes) -> list[str]:
    """What a reader reports about `data`: the open error, or verify's findings."""
    try:
        return HoloTensorFile(data).verify()
    except HoloTensorError as exc:
        return [str(exc)]


def test_round_trip_files_and_progressive_reads(tmp_path, rng: np.random.Generator) -> None:
    w = (rng.standard_normal((64, 128)) * 0.05).astype(np.float32)
    path = tmp_path / "w.htns"
    headers = encode_to_file(w, path)
    full = decode_from_file(path)
    assert full.exact and full.array.tobytes() == w.tobytes() and not full.problems
    target = headers[""].quality.quality(3)
    partial = decode_from_file_progressive(path, target)
    assert partial.fragments == [0, 1, 2] and partial.quality == pytest.approx(target)
    assert partial.bytes_read < full.bytes_read / 2
    assert read_holotensor(path).header == headers[""]


def test_every_single_bit_flip_is_detected(rng: np.random.Generator) -> None:
    data, _ = sample(rng)
    for offset in range(len(data)):
        flipped = bytearray(data)
        flipped[offset] ^= 1 << int(rng.integers(8))
        assert problems_of(bytes(flipped)), f"flip at byte {offset} went unnoticed"


def test_every_truncation_is_detected_and_leading_fragments_survive(
    rng: np.random.Generator,
) -> None:
    data, w = sample(rng)
    for length in range(len(data)):
        assert problems_of(data[:length]), f"cut at {length} went unnoticed"
    with HoloTensorFile(data) as file:
        cut = file.layout.copies(0, 3)[0].offset + 1
    result = HoloTensorFile(data[:cut]).decode("w")
    assert result.fragments == [0, 1, 2] and result.array is not None
    assert any("truncated" in p.reason for p in result.problems)


def rewrite_index(data: bytes, change) -> bytes:
    """`data` with its index entries changed by `change(list)` and the checksums redone."""
    head = HEADER.unpack_from(data)
    manifest_length, count = head[6], head[5]
    index_at = -(-(HEADER.size + manifest_length) // 64) * 64
    entries = [list(ENTRY.unpack_from(data, index_at + i * ENTRY.size)) for i in range(count)]
    change(entries)
    table = b"".join(ENTRY.pack(*e) for e in entries)
    out = bytearray(data)
    out[index_at : index_at + len(table)] = table
    fields = list(head)
    fields[8] = xxhash.xxh3_64_intdigest(bytes(out[HEADER.size : index_at + len(table)]))
    packed = HEADER.pack(*fields[:-1], 0)[:56]
    out[:64] = packed + xxhash.xxh3_64_intdigest(packed).to_bytes(8, "little")
    return bytes(out)


def test_reordered_fragments_are_detected(rng: np.random.Generator) -> None:
    data, _ = sample(rng)

    def swap_payloads(entries):  # entries point at each other's bytes
        entries[1][0], entries[2][0] = entries[2][0], entries[1][0]
        entries[1][1], entries[2][1] = entries[2][1], entries[1][1]

    def relabel(entries):  # bytes in place, claimed by another fragment (checksum kept)
        entries[1][5], entries[2][5] = entries[2][5], entries[1][5]

    for change in (swap_payloads, relabel):
        try:
            result = HoloTensorFile(rewrite_index(data, change)).decode("w")
        except HoloTensorError as exc:
            assert "order" in str(exc) or "lengths" in str(exc)
            continue
        assert result.problems and result.fragments == [0]


def test_missing_fragments_are_reported_and_the_quality_reached_is_known(
    rng: np.random.Generator,
) -> None:
    w = (rng.standard_normal((16, 64)) * 0.1).astype(np.float32)
    encoded = HoloTensorEncoder("bitplane").with_fragments(5).encode(w)
    partial = EncodedTensor(encoded.header, encoded.fragments[:2] + encoded.fragments[3:])
    result = HoloTensorFile(write_holotensor(None, {"w": partial})).decode("w")
    assert [p.index for p in result.problems] == [2]
    assert "missing" in result.problems[0].reason
    assert result.quality == pytest.approx(encoded.header.quality.quality(2))


def test_redundant_copies_recover_a_corrupt_essential_fragment(rng: np.random.Generator) -> None:
    data, w = sample(rng, redundancy=2)
    with HoloTensorFile(data) as file:
        first, copy = file.layout.copies(0, 0)
    broken = bytearray(data)
    broken[first.offset] ^= 0xFF
    result = HoloTensorFile(bytes(broken)).decode("w")
    assert result.exact and result.array.tobytes() == w.tobytes()
    assert len(result.problems) == 1 and "checksum" in result.problems[0].reason
    assert entry_checksum(data[copy.offset : copy.offset + copy.length], 0, 0) == copy.checksum


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_files_raise_holotensor_errors_or_decode(data) -> None:
    base, _ = FUZZ_SAMPLE
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)),
                               max_size=8))  # fmt: skip
    blob = bytearray(base)
    for offset, value in edits:
        blob[offset] = value
    cut = data.draw(st.integers(0, len(blob)))
    try:
        file = HoloTensorFile(bytes(blob[:cut]))
        for name in file.names:
            file.decode(name)
        file.verify()
    except HoloTensorError:
        pass


def test_fuzz_of_structured_fields_reaches_the_parser() -> None:
    base, _ = FUZZ_SAMPLE
    for value in (0, 1, 2**31, 2**63):
        blob = bytearray(base)
        struct.pack_into("<Q", blob, 24, value)
        with pytest.raises(HoloTensorError):
            HoloTensorFile(bytes(blob))


FUZZ_SAMPLE = sample(np.random.default_rng(0))
