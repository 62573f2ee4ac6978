"""`QualityCurve`: how good a tensor is after each prefix of its fragments, measured at encode.

Quality is `1 - relative Frobenius error` (`||W - W_k|| / ||W||`), clipped at 0: 1.0 is exact,
0.0 is no better than zeros. The curve also records the bytes each prefix costs, so that a
loader can trade quality against bytes without fetching anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hologram.holotensor.errors import HoloTensorError


def relative_error(original: np.ndarray, approximation: np.ndarray) -> float:
    """`||original - approximation|| / ||original||` in float64 (0 when both are zero)."""
    a = np.asarray(original, np.float64).ravel()
    b = np.asarray(approximation, np.float64).ravel()
    # Plain sums, not BLAS dot products: as fast, and no thread pool to contend for.
    norm = float(np.sqrt(np.sum(a * a)))
    d = a - b
    diff = float(np.sqrt(np.sum(d * d)))
    if norm == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / norm


@dataclass(frozen=True)
class QualityCurve:
    """Relative error and cumulative bytes after the first `k` fragments, for `k = 0 .. n`.

    `errors[0]` is the error of reconstructing nothing (1.0 for a non-zero tensor) and
    `errors[n]` the error with every fragment; `sizes[k]` is the payload bytes of fragments
    `0 .. k-1`.
    """

    errors: tuple[float, ...]
    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.errors) != len(self.sizes) or not self.errors:
            raise HoloTensorError(
                f"quality curve: {len(self.errors)} errors for {len(self.sizes)} sizes"
            )
        if any(not np.isfinite(e) or e < 0 for e in self.errors):
            raise HoloTensorError("quality curve: errors must be finite and not negative")
        if (
            any(b < a for a, b in zip(self.sizes, self.sizes[1:], strict=False))
            or self.sizes[0] != 0
        ):
            raise HoloTensorError("quality curve: sizes must start at 0 and not decrease")

    @classmethod
    def build(cls, errors: Sequence[float], fragment_sizes: Sequence[int]) -> QualityCurve:
        """A curve from the error after each prefix and each fragment's own size."""
        sizes = np.concatenate([[0], np.cumsum(np.asarray(fragment_sizes, np.int64))])
        return cls(tuple(float(e) for e in errors), tuple(int(s) for s in sizes))

    @property
    def fragments(self) -> int:
        """The number of fragments the curve covers."""
        return len(self.errors) - 1

    def error(self, k: int) -> float:
        """Relative error after the first `k` fragments."""
        return self.errors[min(max(k, 0), self.fragments)]

    def quality(self, k: int) -> float:
        """Quality (`1 - error`, at least 0) after the first `k` fragments."""
        return max(0.0, 1.0 - self.error(k))

    def fragments_for(self, target_quality: float) -> int:
        """The fewest leading fragments whose quality reaches `target_quality` (all of them if
        none does)."""
        for k in range(self.fragments + 1):
            if self.quality(k) >= target_quality:
                return k
        return self.fragments

    def fragments_within(self, max_bytes: int) -> int:
        """The most leading fragments whose payloads fit in `max_bytes`."""
        return max(k for k in range(self.fragments + 1) if self.sizes[k] <= max_bytes or k == 0)

    def to_json(self) -> dict[str, list]:
        """The curve as the file's manifest stores it."""
        return {"errors": list(self.errors), "sizes": list(self.sizes)}

    @classmethod
    def from_json(cls, doc: object, where: str) -> QualityCurve:
        """Parse a manifest's `quality` object; `where` names it in errors."""
        if not isinstance(doc, dict) or set(doc) != {"errors", "sizes"}:
            raise HoloTensorError(f"{where}: quality must be {{'errors': [...], 'sizes': [...]}}")
        errors, sizes = doc["errors"], doc["sizes"]
        if not isinstance(errors, list) or not all(
            isinstance(e, (int, float)) and not isinstance(e, bool) for e in errors
        ):
            raise HoloTensorError(f"{where}: quality.errors must be a list of numbers")
        if not isinstance(sizes, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in sizes
        ):
            raise HoloTensorError(f"{where}: quality.sizes must be a list of integers")
        try:
            return cls(tuple(float(e) for e in errors), tuple(sizes))
        except HoloTensorError as exc:
            raise HoloTensorError(f"{where}: {exc}") from None
