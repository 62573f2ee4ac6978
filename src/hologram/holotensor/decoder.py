"""`HoloTensorDecoder`: fragments in, in any order, an approximation out at any time.

decoder = HoloTensorDecoder(header)
for fragment in arriving:
    decoder.add_fragment(fragment)           # False (and a problem recorded) if corrupt
    if decoder.quality() >= 0.99:
        break
weights = decoder.reconstruct()

When the fragments used form a leading run (they arrive in order: the common case), the
decoder keeps the encoding's `DecodeState` between reconstructions, so that each one costs
only the fragments added since the last (BitPlane, LowRankDistributed); otherwise it decodes
from the first fragment. Both give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hologram.holotensor.encoding import DecodeState, encoding_named
from hologram.holotensor.errors import FragmentUnavailableError, HoloTensorError
from hologram.holotensor.header import Fragment, HoloTensorHeader


@dataclass(frozen=True)
class FragmentProblem:
    """A fragment that could not be used: which tensor and fragment, and why."""

    tensor: str
    index: int
    reason: str
    source: str = ""

    def __str__(self) -> str:
        where = f" from {self.source}" if self.source else ""
        return f"tensor {self.tensor!r} fragment {self.index}{where}: {self.reason}"


class HoloTensorDecoder:
    """Collects a tensor's fragments, checking each against the header's size and checksum.

    Memory: the payloads received, the last reconstruction (until `release`), and while the
    tensor is incomplete the incremental state (`state_nbytes`: for BitPlane 3 bytes per
    value; for LowRankDistributed the float64 sum, 8), dropped once every fragment is in or
    by `release(state=True)`."""

    def __init__(self, header: HoloTensorHeader) -> None:
        self.header = header
        self.encoding = encoding_named(header.encoding)
        self.problems: list[FragmentProblem] = []
        self._payloads: dict[int, bytes] = {}
        self._cache: tuple[tuple[int, ...], np.ndarray] | None = None
        self._state: DecodeState | None = None

    def add_fragment(self, fragment: Fragment, source: str = "") -> bool:
        """Take `fragment` if it belongs to this tensor and its checksum holds; otherwise record
        a `FragmentProblem` and return False. A fragment already held is ignored (True)."""
        if fragment.index in self._payloads:
            return True
        reason = self.header.check(fragment)
        if reason is not None:
            self.problems.append(FragmentProblem(self.header.name, fragment.index, reason, source))
            return False
        self._payloads[fragment.index] = bytes(fragment.payload)
        return True

    @property
    def received(self) -> list[int]:
        """Indices of the fragments held, sorted."""
        return sorted(self._payloads)

    def missing(self) -> list[int]:
        """Indices of the fragments not (or not correctly) received."""
        return [i for i in range(self.header.fragments) if i not in self._payloads]

    def used(self) -> list[int]:
        """The fragments `reconstruct` uses (a leading run, or any subset for some encodings)."""
        return self.encoding.usable(self.header, set(self._payloads))

    def can_reconstruct(self) -> bool:
        """Whether the essential fragments are here, so that `reconstruct` gives an estimate."""
        return bool(self.used())

    def complete(self) -> bool:
        """Whether every fragment is here (exact reconstruction for lossless encodings)."""
        return len(self._payloads) == self.header.fragments

    def error(self) -> float:
        """Relative Frobenius error of `reconstruct()` now, from the encode-time calibration."""
        return self.encoding.estimate_error(self.header, self.used())

    def quality(self) -> float:
        """`1 - error()`, at least 0: 1.0 is exact."""
        return max(0.0, 1.0 - self.error())

    def reconstruct(self) -> np.ndarray:
        """The tensor from the fragments usable now, in its shape and dtype."""
        if not self.can_reconstruct():
            need = [i for i in range(self.header.essential) if i not in self._payloads]
            raise FragmentUnavailableError(
                f"tensor {self.header.name!r}: essential fragments {need} have not arrived"
            )
        used = tuple(self.used())
        if self._cache is None or self._cache[0] != used:
            self._cache = (used, self._decode(used))
        return self._cache[1].copy()

    def _decode(self, used: tuple[int, ...]) -> np.ndarray:
        if used != tuple(range(len(used))):
            return self.encoding.decode(self.header, {i: self._payloads[i] for i in used})
        if self._state is None or self._state.taken > len(used):
            self._state = self.encoding.start(self.header)
            if self._state is None:
                return self.encoding.decode(self.header, {i: self._payloads[i] for i in used})
        state = self._state
        try:
            for index in used[state.taken :]:
                state.add(index, self._payloads[index])
            values = state.result()
        except HoloTensorError:
            self._state = None  # possibly part-way through a fragment
            raise
        if state.taken == self.header.fragments:
            self._state = None  # nothing more can come
        return values

    @property
    def state_nbytes(self) -> int:
        """Bytes held by the incremental decoding state (0 when there is none)."""
        return 0 if self._state is None else self._state.nbytes

    def release(self, state: bool = False) -> None:
        """Drop the reconstruction kept for the next `reconstruct` (its memory); the fragments
        stay. The incremental state stays too (further fragments then cost only themselves),
        unless `state` is True: the next reconstruction then decodes from the first fragment."""
        self._cache = None
        if state:
            self._state = None
