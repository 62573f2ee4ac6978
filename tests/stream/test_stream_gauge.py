"""Gauges and the chunk schedule: primorial levels, whole periods, nothing split."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hologram.stream import ComputePipeline, Schedule, Stream, StreamError, primorial


def test_primorials_are_the_products_of_the_first_primes() -> None:
    assert [primorial(k) for k in range(8)] == [1, 2, 6, 30, 210, 2310, 30030, 510510]
    with pytest.raises(StreamError):
        primorial(-1)


def test_levels_step_through_the_primorials_up_to_the_cap() -> None:
    schedule = Schedule.plan(period=4, levels=4, capacity=1 << 20)
    gauges = list(schedule.gauges(4 * 1000))
    assert [g.level for g in gauges] == [1, 2, 3, 4, 4, 4, 4, 4]
    assert [g.periods for g in gauges] == [2, 6, 30, 210, 210, 210, 210, 1000 - 38 - 840]
    assert not gauges[-1].is_full and all(g.is_full for g in gauges[:-1])


def test_a_level_that_does_not_fit_is_lowered_and_fills_the_slot() -> None:
    schedule = Schedule.plan(period=4, levels=10, capacity=1 << 16)
    assert schedule.top_level == 5  # P(5) = 2310 periods of 4 bytes fit 64 KiB, P(6) does not
    assert schedule.top_multiple == (1 << 16) // (2310 * 4)
    assert schedule.max_chunk_bytes <= 1 << 16


def test_a_period_larger_than_the_slot_is_refused() -> None:
    with pytest.raises(StreamError, match="does not fit"):
        Schedule.plan(period=5000, levels=3, capacity=4096)


@settings(max_examples=200, deadline=None)
@given(
    period=st.integers(1, 64),
    levels=st.integers(0, 9),
    capacity=st.integers(64, 1 << 18),
    periods=st.integers(0, 5000),
)
def test_gauges_tile_the_stream_in_whole_periods(
    period: int, levels: int, capacity: int, periods: int
) -> None:
    if period > capacity:
        return
    schedule = Schedule.plan(period, levels, capacity)
    total = period * periods
    gauges = list(schedule.gauges(total))
    assert sum(g.nbytes for g in gauges) == total
    offset = 0
    for index, gauge in enumerate(gauges):
        assert (gauge.index, gauge.offset) == (index, offset)
        assert gauge.nbytes % period == 0 and gauge.offset % period == 0 and gauge.nbytes > 0
        assert gauge.nbytes <= capacity
        assert gauge.primorial == math.prod([2, 3, 5, 7, 11, 13, 17, 19, 23, 29][: gauge.level])
        offset = gauge.end


RECORD_DTYPES = [
    np.dtype(np.uint8),
    np.dtype(np.float32),
    np.dtype(np.int64),
    np.dtype(np.float16),
    np.dtype([("id", np.int32), ("x", np.float64), ("tag", "S3")]),
]


@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from(RECORD_DTYPES),
    count=st.integers(1, 3000),
    levels=st.integers(0, 8),
    pool_kib=st.integers(1, 64),
    stride=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_chunks_of_a_real_stream_never_split_an_element_or_record(
    dtype: np.dtype, count: int, levels: int, pool_kib: int, stride: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    data = np.frombuffer(rng.bytes(count * stride * dtype.itemsize), dtype)
    period = stride * dtype.itemsize
    pipeline = ComputePipeline("reference", pool_bytes=pool_kib * 1024 + 4 * period)
    # From an iterable of odd-sized byte pieces: the chunker must re-cut them on periods.
    cuts = np.sort(rng.integers(0, data.nbytes, 5))
    raw = data.tobytes()
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    stream = Stream(iter(pieces), dtype=dtype, period=period)
    blocks = [
        (b.gauge, b.to_numpy().copy())
        for b in stream.chunk(levels, pool_bytes=pipeline.pool_size())
    ]
    assert all(g.nbytes % period == 0 and g.offset % period == 0 for g, _ in blocks)
    joined = np.concatenate([values for _, values in blocks])
    assert joined.dtype == dtype
    assert joined.tobytes() == data.tobytes()
    for gauge, values in blocks:
        # Each block starts exactly at a record of the input: none straddles two chunks.
        start = gauge.offset // dtype.itemsize
        assert values.tobytes() == data[start : start + values.size].tobytes()
