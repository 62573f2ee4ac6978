"""Period detection: element size, record size, and strides found by autocorrelation."""

from __future__ import annotations

import numpy as np
import pytest

from hologram.stream import Stream, StreamError
from hologram.stream.period import detect_stride


@pytest.mark.parametrize("stride", [2, 3, 7, 12, 100])
def test_a_tiled_record_is_found_at_its_stride(rng: np.random.Generator, stride: int) -> None:
    record = rng.standard_normal(stride)
    assert detect_stride(np.tile(record, 4000 // stride + 2)) == stride


def test_random_smooth_and_constant_data_have_no_stride(rng: np.random.Generator) -> None:
    assert detect_stride(rng.standard_normal(10_000)) == 1
    assert detect_stride(np.cumsum(rng.standard_normal(10_000))) == 1  # a random walk
    assert detect_stride(np.full(1000, 3.0)) == 1
    assert detect_stride(np.array([np.inf, 1.0] * 100)) == 1


def test_bytes_of_fixed_width_rows_get_the_row_as_period(rng: np.random.Generator) -> None:
    row = rng.integers(0, 256, 24, dtype=np.uint8)
    stream = Stream(np.tile(row, 1000).tobytes())
    assert (stream.period, stream.period_from) == (24, "autocorrelation stride of 24 elements")


def test_a_stride_that_does_not_divide_the_length_is_not_taken(rng: np.random.Generator) -> None:
    row = rng.integers(0, 256, 24, dtype=np.uint8)
    stream = Stream(np.tile(row, 1000).tobytes() + b"x")
    assert stream.period == 1


def test_typed_data_periods(rng: np.random.Generator) -> None:
    assert Stream(rng.standard_normal(1000).astype(np.float32)).period == 4
    pixels = np.tile(rng.standard_normal(3).astype(np.float32), 2000)
    assert Stream(pixels).period == 12  # interleaved 3-channel pixels stay whole
    assert Stream(pixels, detect=False).period == 4
    records = np.zeros(10, [("a", np.int32), ("b", np.float64)])
    assert (Stream(records).period, Stream(records).period_from) == (12, "record size")
    assert Stream(pixels, period=8).period == 8


def test_bad_periods_and_lengths_are_refused() -> None:
    with pytest.raises(StreamError, match="multiple"):
        Stream(np.zeros(8, np.float32), period=6)
    with pytest.raises(StreamError, match="whole number"):
        Stream(b"12345", dtype="float32")
