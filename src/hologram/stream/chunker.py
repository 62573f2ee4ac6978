"""`Stream`: a source, its dtype and its period; `stream.chunk(levels)` cuts it by gauges.

    stream = Stream("data.f32", dtype="float32")
    for block in stream.chunk(7):          # blocks of 2, 6, 30, ... 510,510 periods
        print(block.gauge.name, block.to_numpy().sum())

A stream is read once: a second `chunk()`/`execute()` of the same Stream raises StreamError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.errors import HologramError
from hologram.stream.errors import SourceError, StreamError
from hologram.stream.gauge import DEFAULT_LEVELS, Gauge, Schedule
from hologram.stream.period import SAMPLE_BYTES, choose_period
from hologram.stream.sources import IterableSource, Source, open_source

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor
    from hologram.stream.storage import EmbeddedBlock, EmbeddedContext


class Stream:
    """Data of any size to stream: bytes, arrays, files, URLs, Arrow data or chunk iterables.

    `dtype` types raw bytes (files, bytes); arrays and Arrow data bring their own. `period`
    (bytes, a multiple of the element size) overrides detection; `detect=False` keeps the
    element (record) size.
    """

    def __init__(
        self,
        source: Any,
        *,
        dtype: Any = None,
        period: int | None = None,
        detect: bool = True,
        column: str | None = None,
    ) -> None:
        self.source: Source = open_source(source, dtype, column)
        if isinstance(self.source, IterableSource):
            _before_reading(self.source, self.source.prime)
        self.dtype: np.dtype = self.source.dtype
        itemsize = self.dtype.itemsize
        total = self.source.nbytes
        if total is not None and total % itemsize:
            raise StreamError(
                f"{self.source.describe()} holds {total} bytes, not a whole number of "
                f"{self.dtype} elements of {itemsize} bytes"
            )
        if period is not None:
            if period < 1 or period % itemsize:
                raise StreamError(
                    f"period={period} must be a positive multiple of the {itemsize}-byte "
                    f"{self.dtype} element"
                )
            self.period, self.period_from = period, "given"
        elif self.dtype.fields is not None:
            self.period, self.period_from = itemsize, "record size"
        else:
            sample = None
            if detect and total is not None:
                raw = _before_reading(self.source, lambda: self.source.sample(SAMPLE_BYTES))
                sample = np.frombuffer(raw, self.dtype, len(raw) // itemsize)
            self.period, self.period_from = choose_period(itemsize, sample, total, detect)
        self._claimed = False

    @property
    def nbytes(self) -> int | None:
        """The stream's length in bytes, when the source knows it."""
        return self.source.nbytes

    def claim(self) -> None:
        """Mark the stream as being read; a stream is read once."""
        if self._claimed:
            raise StreamError(f"{self.source.describe()} was already streamed; make a new Stream")
        self._claimed = True

    def chunk(
        self,
        levels: int = DEFAULT_LEVELS,
        *,
        pool_bytes: int | None = None,
        executor: Executor | None = None,
    ) -> ChunkedStream:
        """The stream cut into chunks of up to `levels` primorial levels (see `gauge.py`)."""
        return ChunkedStream(self, levels, pool_bytes, executor)

    def __repr__(self) -> str:
        return (
            f"<Stream {self.source.describe()}, {self.dtype}, period {self.period} bytes "
            f"({self.period_from})>"
        )


def _before_reading(source: Source, step: Callable[[], Any]) -> Any:
    """Run `step`, a first look at `source`; a failure is a SourceError at byte 0."""
    try:
        return step()
    except HologramError:
        raise
    except Exception as exc:
        raise SourceError(
            f"{source.describe()} failed after 0 bytes were processed (0 bytes read): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


class ChunkedStream:
    """A stream with its chunk schedule. Iterate for the blocks (each valid until the next:
    they live in the pool's slots, or are views of an in-memory source), or `embed()` them."""

    def __init__(
        self, stream: Stream, levels: int, pool_bytes: int | None, executor: Executor | None
    ) -> None:
        from hologram.stream.pipeline import ComputePipeline

        self.stream = stream
        self.levels = levels
        self.pipeline = ComputePipeline(executor, pool_bytes=pool_bytes)

    @property
    def schedule(self) -> Schedule:
        """The chunk sizes this stream is cut into."""
        return self.pipeline.engine(self.stream, self.levels).schedule

    def gauges(self) -> list[Gauge]:
        """Every chunk's gauge, without reading (needs a source of known length)."""
        total = self.stream.nbytes
        if total is None:
            raise StreamError("the gauges of a stream of unknown length are known once read")
        return list(self.schedule.gauges(total))

    def __iter__(self) -> Iterator[EmbeddedBlock]:
        return self.pipeline.engine(self.stream, self.levels).blocks()

    def embed(self) -> EmbeddedContext:
        """Every chunk kept as a block of a UniversalMemoryPool (views of in-memory sources)."""
        return self.pipeline.execute(self.stream, self.levels)
