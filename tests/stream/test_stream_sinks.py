"""Sinks hold whole chunks only; a source failing mid-stream says how far it got."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hologram.errors import HologramError
from hologram.stream import (
    ArraySink,
    ArrowSink,
    ComputePipeline,
    FileSink,
    ReLU,
    ScalarMul,
    SinkError,
    SourceError,
)

POOL = 1 << 14


def pipeline() -> ComputePipeline:
    return ComputePipeline("cpu", pool_bytes=POOL).add_op(ReLU()).add_op(ScalarMul(2.0))


def expected(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) * x.dtype.type(2.0)


def test_file_array_and_arrow_sinks(tmp_path: Path, rng: np.random.Generator) -> None:
    x = rng.standard_normal(25_000).astype(np.float32)
    context = pipeline().execute(x, sink=FileSink(tmp_path / "out.f32"))
    assert len(context.pool) == 0 and context.total_bytes == x.nbytes and len(context.gauges) > 3
    np.testing.assert_array_equal(np.fromfile(tmp_path / "out.f32", np.float32), expected(x))
    assert not (tmp_path / "out.f32.partial").exists()

    out = np.lib.format.open_memmap(tmp_path / "out.npy", "w+", np.float32, (x.size,))
    pipeline().execute(x, sink=ArraySink(out))
    out.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected(x))

    pa = pytest.importorskip("pyarrow", reason="pyarrow is the optional Arrow dependency")
    context = pipeline().execute(x, sink=ArrowSink(tmp_path / "out.arrow"))
    reader = pa.ipc.open_file(tmp_path / "out.arrow")
    assert reader.num_record_batches == len(context.gauges)
    table = reader.read_all()
    np.testing.assert_array_equal(table.column("values").to_numpy(), expected(x))
    batch = reader.get_record_batch(2)
    assert batch.num_rows * 4 == context.gauges[2].nbytes


def failing(x: np.ndarray, pieces: int, fail_after: int) -> Iterator[np.ndarray]:
    """Yields `x` in `pieces` parts, raising OSError after `fail_after` of them."""
    for i, part in enumerate(np.array_split(x, pieces)):
        if i == fail_after:
            raise OSError("connection reset")
        yield part


def test_a_failing_source_reports_bytes_processed(tmp_path: Path, rng: np.random.Generator) -> None:
    x = rng.standard_normal(40_000).astype(np.float32)
    sink = FileSink(tmp_path / "out.f32")
    with pytest.raises(SourceError) as info:
        pipeline().execute(failing(x, 10, 6), sink=sink)
    error = info.value
    assert isinstance(error, HologramError)
    assert f"after {error.bytes_processed} bytes were processed" in str(error)
    assert "connection reset" in str(error)
    assert 0 < error.bytes_processed <= error.bytes_read <= x.nbytes * 6 // 10 + 4
    # The sink kept whole chunks only, exactly the processed bytes, and said where they are.
    assert not (tmp_path / "out.f32").exists()
    kept = np.fromfile(tmp_path / "out.f32.partial", np.float32)
    assert kept.nbytes == error.bytes_processed == sink.bytes_committed
    np.testing.assert_array_equal(kept, expected(x)[: kept.size])
    assert "out.f32.partial holds the first" in str(error)


def test_a_source_failing_before_any_chunk(rng: np.random.Generator) -> None:
    with pytest.raises(SourceError, match="after 0 bytes were processed") as info:
        pipeline().execute(failing(np.zeros(10, np.float32), 2, 0))
    assert info.value.bytes_processed == 0


def test_a_truncated_element_at_the_end_is_an_error(rng: np.random.Generator) -> None:
    raw = rng.standard_normal(1000).astype(np.float32).tobytes()
    with pytest.raises(SourceError, match="not a whole 4-byte period"):
        pipeline().execute(iter([raw, b"\x00\x01"]), dtype="float32")


def test_an_array_sink_never_takes_part_of_a_chunk(rng: np.random.Generator) -> None:
    x = rng.standard_normal(20_000).astype(np.float32)
    out = np.zeros(15_000, np.float32)
    sink = ArraySink(out)
    with pytest.raises(SinkError, match="does not fit") as info:
        pipeline().execute(x, sink=sink)
    committed = info.value.bytes_committed // 4
    assert committed == sink.filled.size < 15_000
    np.testing.assert_array_equal(out[:committed], expected(x)[:committed])
    assert not out[committed:].any()  # nothing of the chunk that did not fit
    with pytest.raises(SinkError, match="float64"):
        pipeline().execute(x, sink=ArraySink(np.zeros(20_000)))
