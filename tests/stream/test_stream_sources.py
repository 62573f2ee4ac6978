"""Every kind of source streams to exactly its input; in-memory ones without a copy."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from hologram import Executor
from hologram.stream import ComputePipeline, Stream, StreamError

POOL = 1 << 14  # small, so that every source is cut into many chunks


def embed(source: object, **kwargs: object) -> np.ndarray:
    """`source` streamed with no ops through a small pool, joined."""
    return ComputePipeline("cpu", pool_bytes=POOL).execute(source, **kwargs).to_numpy()


@pytest.fixture
def values(rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(10_007).astype(np.float32)


def test_bytes_and_arrays(values: np.ndarray) -> None:
    np.testing.assert_array_equal(embed(values), values)
    np.testing.assert_array_equal(embed(values.tobytes(), dtype="float32"), values)
    np.testing.assert_array_equal(embed(bytearray(values.tobytes())).view(np.float32), values)
    two_d = values[:10_000].reshape(100, 100)
    np.testing.assert_array_equal(embed(two_d.T), two_d.T.reshape(-1))  # non-contiguous


def test_in_memory_blocks_are_views_of_the_source(values: np.ndarray) -> None:
    # A host backend: device blocks are not views (the default is the best backend).
    context = Stream(values).chunk(6, pool_bytes=POOL, executor=Executor("cpu")).embed()
    assert len(context.blocks) > 3
    for block in context.blocks:
        assert block.data is not None and np.shares_memory(block.data, values)


def test_memmaps_paths_and_file_objects(tmp_path: Path, values: np.ndarray) -> None:
    path = tmp_path / "x.f32"
    values.tofile(path)
    np.testing.assert_array_equal(embed(np.memmap(path, np.float32, "r")), values)
    np.testing.assert_array_equal(embed(path, dtype="float32"), values)
    np.testing.assert_array_equal(embed(str(path), dtype="float32"), values)
    with open(path, "rb") as file:
        np.testing.assert_array_equal(embed(file, dtype="float32"), values)
    unsized = io.BufferedReader(io.BytesIO(values.tobytes()))  # read-only, no length up front
    np.testing.assert_array_equal(embed(unsized, dtype="float32"), values)
    with pytest.raises(StreamError, match="no such file"):
        Stream(tmp_path / "missing.f32")


def test_iterables_of_chunks_of_any_sizes(rng: np.random.Generator, values: np.ndarray) -> None:
    cuts = np.sort(rng.integers(0, values.size, 9))
    arrays = np.split(values, cuts)
    np.testing.assert_array_equal(embed(iter(arrays)), values)
    raw = values.tobytes()
    byte_cuts = np.sort(rng.integers(0, len(raw), 9))
    pieces = [raw[a:b] for a, b in zip([0, *byte_cuts], [*byte_cuts, len(raw)], strict=True)]
    np.testing.assert_array_equal(embed(iter(pieces), dtype="float32"), values)
    with pytest.raises(StreamError, match="among chunks"):
        embed([np.zeros(3, np.float32), np.zeros(3, np.int16)])


def test_arrow_arrays_batches_and_tables(rng: np.random.Generator, values: np.ndarray) -> None:
    pa = pytest.importorskip("pyarrow", reason="pyarrow is the optional Arrow dependency")
    array = pa.array(values)
    np.testing.assert_array_equal(embed(array), values)
    chunked = pa.chunked_array([values[:3000], values[3000:]])
    np.testing.assert_array_equal(embed(chunked), values)
    context = Stream(array).chunk(5, pool_bytes=POOL, executor=Executor("cpu")).embed()
    assert all(
        np.shares_memory(b.data, array.to_numpy(zero_copy_only=True)) for b in context.blocks
    )

    ids = rng.integers(0, 1000, values.size).astype(np.int32)
    batch = pa.record_batch([pa.array(ids), array], names=["id", "x"])
    rows = embed(batch)
    assert rows.dtype.names == ("id", "x")
    np.testing.assert_array_equal(rows["id"], ids)
    np.testing.assert_array_equal(rows["x"], values)
    table = pa.Table.from_batches([batch.slice(0, 4000), batch.slice(4000)])
    np.testing.assert_array_equal(embed(table)["x"], values)
    np.testing.assert_array_equal(embed(Stream(table, column="id")), ids)
    with pytest.raises(StreamError, match="nulls"):
        Stream(pa.array([1.0, None]))


def test_fsspec_local_and_memory_filesystems(tmp_path: Path, values: np.ndarray) -> None:
    fsspec = pytest.importorskip("fsspec", reason="fsspec is the optional URL dependency")
    with fsspec.open("memory://hologram-stream/x.f32", "wb") as file:
        file.write(values.tobytes())
    np.testing.assert_array_equal(embed("memory://hologram-stream/x.f32", dtype="float32"), values)
    path = tmp_path / "x.f32"
    values.tofile(path)
    np.testing.assert_array_equal(embed(f"file://{path}", dtype="float32"), values)
    with pytest.raises(StreamError, match="cannot open"):
        Stream("memory://hologram-stream/missing.f32")


def test_unknown_sources_and_reuse_are_refused(values: np.ndarray) -> None:
    with pytest.raises(StreamError, match="cannot stream"):
        Stream(3.5)
    stream = Stream(values)
    ComputePipeline("cpu").execute(stream)
    with pytest.raises(StreamError, match="already streamed"):
        ComputePipeline("cpu").execute(stream)
