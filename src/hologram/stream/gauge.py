"""Gauges: what every chunk of a stream carries, and the primorial schedule of chunk sizes.

A stream is cut into chunks of whole *periods* (the element, record or detected stride size, in
bytes). Chunk `i` is at primorial level `min(i + 1, top)`: it holds `P(level)` periods, where
`P(k)` is the product of the first `k` primes (1, 2, 6, 30, 210, 2,310, 30,030, 510,510, ...).
`top` is the level asked for, lowered to the highest level whose chunk fits a slot of the pool;
when it was lowered, the top-level chunk holds the largest multiple of `P(top)` periods that fits,
so that the pool is used fully. The last chunk holds what is left: fewer periods, still whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from hologram.stream.errors import StreamError

PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71)
MAX_LEVEL = len(PRIMES)
DEFAULT_LEVELS = 10
"""More levels than any pool fits: chunks grow until they fill a slot."""


def primorial(level: int) -> int:
    """The product of the first `level` primes: P(0) = 1, P(1) = 2, P(2) = 6, P(3) = 30, ..."""
    if not 0 <= level <= MAX_LEVEL:
        raise StreamError(f"primorial level must be between 0 and {MAX_LEVEL}, got {level}")
    product = 1
    for prime in PRIMES[:level]:
        product *= prime
    return product


@dataclass(frozen=True)
class Gauge:
    """Where a chunk sits in its stream and how it was cut.

    `index`: the chunk's position (0, 1, ...). `level`: its primorial level. `primorial`:
    P(level). `multiple`: how many P(level)-period groups a full chunk of this level holds (1
    except at a pool-capped top level). `period`: the bytes of one period (a multiple of the
    element size). `offset`: the chunk's first byte in the stream. `nbytes`: its length, a whole
    number of periods.
    """

    index: int
    level: int
    primorial: int
    multiple: int
    period: int
    offset: int
    nbytes: int

    @property
    def periods(self) -> int:
        """How many whole periods the chunk holds."""
        return self.nbytes // self.period

    @property
    def end(self) -> int:
        """The byte just past the chunk."""
        return self.offset + self.nbytes

    @property
    def is_full(self) -> bool:
        """False for a last chunk shorter than its level's size."""
        return self.periods == self.primorial * self.multiple

    @property
    def name(self) -> str:
        """A short label: `P7x16/4B@2048`: level 7, 16 groups of P(7) periods of 4 bytes, at
        byte 2048."""
        times = f"x{self.multiple}" if self.multiple != 1 else ""
        return f"P{self.level}{times}/{self.period}B@{self.offset}"

    def as_dict(self) -> dict[str, int]:
        """The gauge's fields as a plain dict (for JSON, Arrow metadata and tables)."""
        return {
            "index": self.index,
            "level": self.level,
            "primorial": self.primorial,
            "multiple": self.multiple,
            "period": self.period,
            "offset": self.offset,
            "nbytes": self.nbytes,
        }


@dataclass(frozen=True)
class Schedule:
    """The chunk sizes of a stream with a given period, level cap and slot capacity."""

    period: int
    top_level: int
    top_multiple: int

    @classmethod
    def plan(cls, period: int, levels: int, capacity: int) -> Schedule:
        """The schedule for `levels` levels when one chunk may take at most `capacity` bytes.

        Raises StreamError when not even one period fits.
        """
        if period < 1:
            raise StreamError(f"a period must be at least 1 byte, got {period}")
        if not 0 <= levels <= MAX_LEVEL:
            raise StreamError(f"levels must be between 0 and {MAX_LEVEL}, got {levels}")
        if period > capacity:
            raise StreamError(
                f"one period of {period} bytes does not fit a pool slot of {capacity} bytes; "
                "give a larger pool"
            )
        top = levels
        while primorial(top) * period > capacity:
            top -= 1
        multiple = 1
        if top < levels:
            multiple = capacity // (primorial(top) * period)
        return cls(period, top, multiple)

    @property
    def max_chunk_bytes(self) -> int:
        """The largest chunk this schedule makes."""
        return primorial(self.top_level) * self.top_multiple * self.period

    def level_of(self, index: int) -> int:
        """The primorial level of chunk `index`."""
        return self.top_level if self.top_level == 0 else min(index + 1, self.top_level)

    def gauges(self, total: int | None = None) -> Iterator[Gauge]:
        """The gauge of each full-size chunk in turn (forever, or until `total` bytes, the last
        one cut short). `total` must be a whole number of periods."""
        offset = 0
        index = 0
        while total is None or offset < total:
            yield self.gauge(index, offset, total)
            offset += self.chunk_bytes(index)
            index += 1

    def chunk_bytes(self, index: int) -> int:
        """The size of chunk `index` when the stream has enough bytes left."""
        level = self.level_of(index)
        multiple = self.top_multiple if level == self.top_level else 1
        return primorial(level) * multiple * self.period

    def gauge(self, index: int, offset: int, total: int | None = None, nbytes: int = -1) -> Gauge:
        """The gauge of chunk `index` at `offset`: full size, or `nbytes` (whole periods), or
        cut at `total`."""
        level = self.level_of(index)
        multiple = self.top_multiple if level == self.top_level else 1
        size = self.chunk_bytes(index) if nbytes < 0 else nbytes
        if total is not None:
            size = min(size, total - offset)
        if size % self.period:
            raise StreamError(
                f"chunk {index} at byte {offset} would hold {size} bytes, not a whole number "
                f"of {self.period}-byte periods"
            )
        return Gauge(index, level, primorial(level), multiple, self.period, offset, size)
