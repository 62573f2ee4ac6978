"""Domain heads over pools and streams, against NumPy computing on the whole input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hologram.stream import (
    AggregateDomainHead,
    ComputePipeline,
    FilterDomainHead,
    NormalizeDomainHead,
    NullSink,
    RawDomainHead,
    ReLU,
    StreamError,
)

POOL = 1 << 13


def context_of(data: np.ndarray, ops: tuple = ()) -> object:
    return ComputePipeline("cpu", pool_bytes=POOL, ops=ops).execute(data, 9)


def test_normalize_filter_raw(rng: np.random.Generator) -> None:
    x = (rng.standard_normal(20_000) * 50 + 100).astype(np.float32)
    pool = context_of(x).pool
    assert len(pool) > 5
    got = NormalizeDomainHead(0.0, 255.0).extract(pool)
    assert got.kind == "normalized"
    np.testing.assert_array_equal(got.values, (x - 0.0) / (255.0 - 0.0))
    np.testing.assert_array_equal(FilterDomainHead.positive_only().extract(pool).values, x[x > 0])
    np.testing.assert_array_equal(FilterDomainHead.threshold(120).extract(pool).values, x[x >= 120])
    np.testing.assert_array_equal(
        FilterDomainHead.clip(50, 150).extract(pool).values, np.clip(x, 50, 150)
    )
    raw = RawDomainHead().extract(pool)
    assert raw.kind == "raw" and raw.values.tobytes() == x.tobytes()
    with pytest.raises(StreamError):
        NormalizeDomainHead(1.0, 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_aggregates_of_floats(rng: np.random.Generator, dtype: type) -> None:
    x = (rng.standard_normal(50_001) * 10 + 3).astype(dtype)
    stats = AggregateDomainHead().extract(context_of(x).pool).stats
    exact = x.astype(np.float64)
    assert stats["count"] == x.size
    assert stats["min"] == x.min() and stats["max"] == x.max()
    tol = 1e-3 if dtype == np.float16 else 1e-6
    assert stats["sum"] == pytest.approx(math.fsum(exact), rel=tol)
    assert stats["mean"] == pytest.approx(math.fsum(exact) / x.size, rel=tol)


def test_aggregates_of_integers_are_exact(rng: np.random.Generator) -> None:
    x = rng.integers(2**30, 2**31 - 1, 40_000).astype(np.int32)  # int32 sums overflow
    stats = AggregateDomainHead().extract(context_of(x).pool).stats
    assert stats["sum"] == sum(int(v) for v in x)
    assert stats["mean"] == sum(int(v) for v in x) / x.size
    assert (stats["min"], stats["max"]) == (x.min(), x.max())
    u = rng.integers(0, 2**64 - 1, 1000, dtype=np.uint64, endpoint=True) // 4096
    assert AggregateDomainHead().extract(context_of(u).pool).stats["sum"] == sum(int(v) for v in u)


def test_aggregates_do_not_drift_over_many_blocks() -> None:
    # 1e8 followed by many small values: a naive float32 running sum loses them all.
    x = np.concatenate([[1e8], np.full(200_000, 0.1)]).astype(np.float32)
    head = AggregateDomainHead()
    ComputePipeline("cpu", pool_bytes=4096).execute(x, 9, sink=NullSink(), heads=[head])
    assert head.sum == pytest.approx(math.fsum(x.astype(np.float64)), rel=1e-9)


def test_nan_and_inf_propagate_like_numpy() -> None:
    x = np.array([1.0, np.nan, 2.0] * 1000, np.float32)
    stats = AggregateDomainHead().extract(context_of(x).pool).stats
    assert math.isnan(stats["sum"]) and math.isnan(stats["mean"]) and math.isnan(stats["max"])
    y = np.array([1.0, np.inf] * 1000, np.float32)
    stats = AggregateDomainHead().extract(context_of(y).pool).stats
    assert stats["sum"] == np.inf and stats["mean"] == np.inf


def test_heads_run_on_the_stream_and_merge(rng: np.random.Generator) -> None:
    x = rng.standard_normal(30_000).astype(np.float32)
    halves = []
    for part in np.split(x, [12_345]):
        head = AggregateDomainHead()
        ComputePipeline("cpu", pool_bytes=POOL, ops=[ReLU()]).execute(
            part, sink=NullSink(), heads=[head]
        )
        halves.append(head)
    stats = halves[0].merge(halves[1]).finish().stats
    relu = np.maximum(x, 0).astype(np.float64)
    assert stats["count"] == x.size and stats["max"] == relu.max()
    assert stats["sum"] == pytest.approx(math.fsum(relu), rel=1e-6)
    assert stats["mean"] == pytest.approx(relu.mean(), rel=1e-6)
