"""Domain heads: each reads the blocks of a pool (or of a stream, chunk by chunk) and returns
a `Modality`, one view of the data.

    NormalizeDomainHead(0.0, 255.0).extract(context.pool).values     # (x - 0) / 255
    FilterDomainHead.positive_only().extract(context.pool).values    # x[x > 0]
    AggregateDomainHead().extract(context.pool).stats                # min, max, sum, mean, count
    RawDomainHead().extract(context.pool).values                     # the bytes

Heads read CPU-shared blocks in place (zero copy); a device-pool block is copied to the host
one block at a time. `AggregateDomainHead` holds O(1) state, so it also runs on streams of any
length (`execute(..., heads=[...])`); the others keep their output, which grows with the input.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hologram.errors import DTypeError
from hologram.stream.errors import StreamError
from hologram.stream.storage import EmbeddedBlock, UniversalMemoryPool


@dataclass(frozen=True)
class Modality:
    """What a head extracts. `kind`: normalized, filtered, aggregate or raw. `values`: an array
    (None for aggregates). `stats`: the aggregates (empty for other kinds)."""

    kind: str
    values: np.ndarray | None = None
    stats: dict[str, Any] = field(default_factory=dict)


class DomainHead(ABC):
    """Reads blocks in stream order: `start(dtype)`, `update(block)` per block, `finish()`."""

    name: str = "head"

    def start(self, dtype: np.dtype) -> None:
        """Reset for a stream of `dtype`."""
        self.dtype = np.dtype(dtype)

    @abstractmethod
    def update(self, block: EmbeddedBlock) -> None:
        """Take one block."""

    @abstractmethod
    def finish(self) -> Modality:
        """The modality of every block taken since `start`."""

    def extract(self, pool: UniversalMemoryPool) -> Modality:
        """The modality of every block of `pool`."""
        blocks = list(pool)
        if not blocks:
            raise StreamError(f"{self.name} head: the pool holds no blocks")
        self.start(blocks[0].dtype)
        for block in blocks:
            self.update(block)
        return self.finish()


def _numbers(block: EmbeddedBlock, what: str) -> np.ndarray:
    if block.dtype.kind not in "biuf":
        raise DTypeError(f"{what} head needs numbers, the blocks hold {block.dtype}")
    return block.to_numpy()


class _Collecting(DomainHead):
    """A head that keeps one result array per block and joins them at the end."""

    kind = "values"

    def start(self, dtype: np.dtype) -> None:
        super().start(dtype)
        self._parts: list[np.ndarray] = []

    def update(self, block: EmbeddedBlock) -> None:
        self._parts.append(self.transform(_numbers(block, self.name)))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """This head's result for one block's values."""
        raise NotImplementedError

    def finish(self) -> Modality:
        values = np.concatenate(self._parts) if self._parts else np.empty(0, self.dtype)
        return Modality(self.kind, values)


class NormalizeDomainHead(_Collecting):
    """Min-max normalisation with a known range: (x - min) / (max - min)."""

    name = "normalize"
    kind = "normalized"

    def __init__(self, min: float, max: float) -> None:  # noqa: A002
        if not max > min:
            raise StreamError(f"NormalizeDomainHead needs max > min, got {min} and {max}")
        self.min = min
        self.max = max

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.min) / (self.max - self.min)


class FilterDomainHead(_Collecting):
    """Filtering: `positive_only()` keeps x > 0, `threshold(t)` keeps x >= t, `clip(lo, hi)`
    clips every value into [lo, hi]."""

    name = "filter"
    kind = "filtered"

    def __init__(self, mode: str, lo: float = 0.0, hi: float = 0.0) -> None:
        if mode not in ("positive", "threshold", "clip"):
            raise StreamError(f"unknown filter {mode!r}: positive, threshold or clip")
        if mode == "clip" and not lo <= hi:
            raise StreamError(f"clip filter needs lo <= hi, got {lo} and {hi}")
        self.mode = mode
        self.lo = lo
        self.hi = hi

    @classmethod
    def positive_only(cls) -> FilterDomainHead:
        """Keep the values above zero."""
        return cls("positive")

    @classmethod
    def threshold(cls, t: float) -> FilterDomainHead:
        """Keep the values of at least `t`."""
        return cls("threshold", lo=t)

    @classmethod
    def clip(cls, lo: float, hi: float) -> FilterDomainHead:
        """Clip every value into [lo, hi]."""
        return cls("clip", lo, hi)

    def transform(self, values: np.ndarray) -> np.ndarray:
        if self.mode == "positive":
            return values[values > 0]
        if self.mode == "threshold":
            return values[values >= self.lo]
        return np.clip(values, self.lo, self.hi)


class RawDomainHead(_Collecting):
    """The blocks' bytes, joined."""

    name = "raw"
    kind = "raw"

    def update(self, block: EmbeddedBlock) -> None:
        raw = block.as_slice()
        self._parts.append(raw.copy() if raw is not None else block.to_numpy().view(np.uint8))

    def finish(self) -> Modality:
        values = np.concatenate(self._parts) if self._parts else np.empty(0, np.uint8)
        return Modality(self.kind, values)


class AggregateDomainHead(DomainHead):
    """min, max, sum, mean and count, in O(1) memory.

    Each block is reduced on its own (NumPy's pairwise sum; integers in 64 bits, as NumPy
    does); block sums are added with Neumaier's compensated summation and block means merged
    by count (Chan et al.), so the result does not drift with the number of blocks. NaNs
    propagate to min, max, sum and mean, as in NumPy. `merge` combines the states of two heads
    (for partial results computed apart, as `hologram.stream.dask` does).
    """

    name = "aggregate"

    def start(self, dtype: np.dtype) -> None:
        super().start(dtype)
        if self.dtype.kind not in "biuf":
            raise DTypeError(f"aggregate head needs numbers, the stream holds {self.dtype}")
        self.count = 0
        self.minimum: Any = None
        self.maximum: Any = None
        self._sum: Any = 0 if self._exact else 0.0
        self._compensation = 0.0
        self.mean = 0.0

    @property
    def _exact(self) -> bool:
        return self.dtype.kind in "biu"

    def update(self, block: EmbeddedBlock) -> None:
        self.update_values(_numbers(block, self.name))

    def update_values(self, values: np.ndarray) -> None:
        """Take the values of one block."""
        n = int(values.size)
        if n == 0:
            return
        if self._exact:
            acc = np.uint64 if self.dtype.kind == "u" else np.int64
            total: Any = int(np.add.reduce(values, dtype=acc))
        else:
            acc = np.float32 if self.dtype.itemsize < 4 else values.dtype
            total = float(np.add.reduce(values, dtype=acc))
        self._combine(n, values.min(), values.max(), total)

    def _combine(self, n: int, lo: Any, hi: Any, total: Any, mean: float | None = None) -> None:
        self.minimum = lo if self.minimum is None else _pick(self.minimum, lo, np.minimum)
        self.maximum = hi if self.maximum is None else _pick(self.maximum, hi, np.maximum)
        if self._exact:
            self._sum += total
        else:
            self._add(total)
        block_mean = (total / n) if mean is None else mean
        merged = self.count + n
        if math.isfinite(block_mean) and math.isfinite(self.mean):
            self.mean += (block_mean - self.mean) * (n / merged)
        else:
            self.mean = self.mean + block_mean  # inf/NaN propagate as NumPy's would
        self.count = merged

    def _add(self, value: float) -> None:
        total = self._sum + value
        if math.isfinite(total):
            if abs(self._sum) >= abs(value):
                self._compensation += (self._sum - total) + value
            else:
                self._compensation += (value - total) + self._sum
        self._sum = total

    @property
    def sum(self) -> Any:
        """The sum so far (a Python int for integer streams)."""
        if self._exact:
            return self._sum
        return self._sum + self._compensation if math.isfinite(self._sum) else self._sum

    def merge(self, other: AggregateDomainHead) -> AggregateDomainHead:
        """Fold `other`'s state into this one; returns self."""
        if other.count:
            if self.count == 0:
                self.minimum = None
            self._combine(other.count, other.minimum, other.maximum, other.sum, other.mean)
        return self

    def finish(self) -> Modality:
        stats: dict[str, Any] = {"count": self.count}
        if self.count:
            # An exact sum gives a correctly rounded mean; a float one the merged block means.
            mean = self._sum / self.count if self._exact else self.mean
            stats.update(min=self.minimum, max=self.maximum, sum=self.sum, mean=mean)
        return Modality("aggregate", None, stats)


def _pick(a: Any, b: Any, fn: Any) -> Any:
    return fn(a, b)
