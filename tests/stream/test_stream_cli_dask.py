"""`hologram stream` from the shell, and pipelines over dask arrays."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hologram.cli import app
from hologram.config import parse_bytes, reload_settings
from hologram.stream import ComputePipeline, ReLU, ScalarMul


def test_stream_command_writes_the_output_and_sums(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    x = rng.standard_normal(50_000).astype(np.float32)
    x.tofile(tmp_path / "in.f32")
    args = ["stream", str(tmp_path / "in.f32"), "-o", str(tmp_path / "out.f32"), "--op", "relu",
            "--op", "scale=0.5", "--pool", "64KiB", "--backend", "cpu"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = np.maximum(x, 0) * np.float32(0.5)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "out.f32", np.float32), expected)
    assert "relu -> scale=0.5" in result.output and "sum" in result.output
    assert f"{expected.astype(np.float64).sum():.3f}"[:6] in result.output
    bad = CliRunner().invoke(app, [*args[:4], "--op", "gelu"])
    assert bad.exit_code == 1 and "unknown op" in bad.output


def test_pool_size_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_bytes("64MiB") == 64 * 2**20 and parse_bytes("1e3") == 1000
    monkeypatch.setenv("HOLOGRAM_STREAM_POOL", "2MiB")
    try:
        assert reload_settings().stream_pool == 2 * 2**20
        assert ComputePipeline().pool_size() == 2 * 2**20
    finally:
        monkeypatch.undo()
        reload_settings()
    with pytest.raises(ValueError, match="not a size"):
        parse_bytes("lots")


def test_dask_map_blocks_and_aggregate_on_a_local_cluster(rng: np.random.Generator) -> None:
    pytest.importorskip("dask.array", reason="dask is the optional `dask` extra")
    distributed = pytest.importorskip("distributed", reason="the local cluster needs distributed")
    import dask.array as da

    from hologram.stream import dask as hsd

    x = rng.standard_normal((2000, 33)).astype(np.float32)
    pipeline = ComputePipeline("cpu", pool_bytes=1 << 14).add_op(ReLU()).add_op(ScalarMul(0.5))
    assert repr(pickle.loads(pickle.dumps(pipeline))) == repr(pipeline)
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    with cluster, distributed.Client(cluster):
        array = da.from_array(x, chunks=(700, 33))
        expected = np.maximum(x, 0) * np.float32(0.5)
        np.testing.assert_array_equal(hsd.map_blocks(pipeline, array).compute(), expected)
        stats = hsd.aggregate(pipeline, array).stats
    assert stats["count"] == x.size and stats["max"] == expected.max()
    assert stats["sum"] == pytest.approx(expected.astype(np.float64).sum(), rel=1e-6)
