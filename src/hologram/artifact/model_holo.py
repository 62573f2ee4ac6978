"""A compiled model's float weights as HoloTensor fragments (`hologram compile --holotensor`).

Writing: `HoloWeights` collects the float tensors the weight list diverts to it (identical
bytes once) and encodes them into one multi-tensor HoloTensor file, the payload of section
`holotensor` (kind `weights.holotensor`). Reading: `decode_holotensor` decodes each tensor to a
target quality or fragment count and reports what it reached (`WeightQuality`); it keeps the
decoders (`ProgressiveWeights`), so that `Model.refine` reads only the fragments not read yet.
The layout is specified in `SPEC.md`, *HoloTensor weights*, and the payload in
`holotensor/SPEC.md`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.errors import ArtifactError, HologramError

if TYPE_CHECKING:
    from hologram.artifact.container import Container
    from hologram.holotensor.files import HoloTensorFile

HOLOTENSOR_SECTION = "holotensor"
KIND_HOLOTENSOR = "weights.holotensor"
ENCODINGS = ("bitplane",)
"""Encodings `hologram.compile(holotensor=...)` accepts: the lossless one made for weights."""


@dataclass(frozen=True)
class TensorQuality:
    """One tensor as decoded: the quality reached (1 - relative Frobenius error, from the
    encode-time calibration), the fragments used out of those stored, whether it is bit for
    bit the compiled tensor, and its Frobenius norm (which weighs it in the overall figure)."""

    quality: float
    fragments: int
    total: int
    exact: bool
    norm: float = 0.0


@dataclass
class WeightQuality:
    """What a progressive load reached: per tensor, and overall.

    `quality` is the model's: `1 - sqrt(sum e_i^2 |W_i|^2 / sum |W_i|^2)` over the tensors'
    relative errors `e_i`, the relative error of all the weights taken as one vector (a large
    layer counts as much as it weighs); `lowest` is the worst tensor's."""

    tensors: dict[str, TensorQuality] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def quality(self) -> float:
        """The norm-weighted quality of all the weights (1.0 with none; `lowest` when every
        norm is zero)."""
        energy = sum(t.norm**2 for t in self.tensors.values())
        if energy == 0.0:
            return self.lowest
        error = sum((1.0 - t.quality) ** 2 * t.norm**2 for t in self.tensors.values())
        return max(0.0, 1.0 - math.sqrt(error / energy))

    @property
    def lowest(self) -> float:
        """The lowest quality of any tensor (1.0 with none)."""
        return min((t.quality for t in self.tensors.values()), default=1.0)

    @property
    def exact(self) -> bool:
        """Whether every tensor is bit for bit the compiled one."""
        return all(t.exact for t in self.tensors.values())

    def __repr__(self) -> str:
        used = sum(t.fragments for t in self.tensors.values())
        total = sum(t.total for t in self.tensors.values())
        return (
            f"WeightQuality({self.quality:.6f}, lowest {self.lowest:.6f}, "
            f"{len(self.tensors)} tensors, {used}/{total} fragments"
            f"{', exact' if self.exact else ''})"
        )


class HoloWeights:
    """Writing: the float tensors stored as HoloTensor fragments instead of raw bytes."""

    def __init__(self, encoding: str, fragments: int | None = None) -> None:
        if encoding not in ENCODINGS:
            raise ArtifactError(f"holotensor encoding {encoding!r} is not one of {ENCODINGS}")
        self.encoding = encoding
        self.fragments = fragments
        self.tensors: dict[str, np.ndarray] = {}
        self._names: dict[tuple[str, bytes], str] = {}

    def divert(self, key: str, array: np.ndarray) -> str | None:
        """The HoloTensor name holding `array` when it is a float tensor worth encoding
        (at least the library's raw threshold); None to store it raw."""
        from hologram.holotensor.encoding import FLOAT_DTYPES
        from hologram.holotensor.files import MIN_ELEMENTS

        if array.dtype.name not in FLOAT_DTYPES or array.size < MIN_ELEMENTS:
            return None
        data = np.ascontiguousarray(array)
        # A plan constant holds an initializer's bytes, flat: both name one encoded tensor.
        digest = (data.dtype.name, hashlib.blake2b(data.tobytes(), digest_size=16).digest())
        name = self._names.get(digest)
        if name is None:
            name = self._names[digest] = key
            self.tensors[key] = data
        return name

    def to_bytes(self) -> bytes:
        """The section's payload: a multi-tensor HoloTensor file."""
        from hologram.holotensor.files import encode_tensors, write_holotensor

        try:
            encoded = encode_tensors(self.tensors, self.encoding, self.fragments)
            data = write_holotensor(None, encoded, metadata={"producer": "hologram"})
        except HologramError as exc:
            raise ArtifactError(f"section {HOLOTENSOR_SECTION!r}: cannot encode: {exc}") from None
        assert data is not None
        return data

    def describe(self) -> dict[str, Any]:
        """The manifest's `holotensor` object."""
        return {
            "section": HOLOTENSOR_SECTION,
            "encoding": self.encoding,
            "tensors": list(self.tensors),
        }


class ProgressiveWeights:
    """A model's HoloTensor weights as decoded so far, with the decoders kept for refining.

    Each tensor's fragments are read in order, each once: its decoder keeps the fragments it
    has taken, so that `fetch` reads only those not read yet. A tensor with every fragment
    read drops its decoder, and once all have, the section is let go. `arrays` are the
    decoded tensors, which the model's weights view: refining writes into them in place.
    """

    def __init__(self, file: HoloTensorFile, names: list[str], here: str) -> None:
        from hologram.holotensor.decoder import HoloTensorDecoder

        self.here = here
        self.arrays: dict[str, np.ndarray] = {}
        """HoloTensor name -> the decoded tensor."""
        self.reached = WeightQuality()
        self.fragments_read = 0
        """Fragments read from the section so far, over every tensor."""
        self._bytes_read = 0
        self._file: HoloTensorFile | None = file
        self._decoders = {name: HoloTensorDecoder(file.headers[name]) for name in names}
        self._next = dict.fromkeys(self._decoders, 0)
        self._pending: dict[str, Any] = {}
        """Decoders fed since their tensor was last written (kept over a failed refinement)."""

    @property
    def bytes_read(self) -> int:
        """Bytes of fragments read from the section so far."""
        return self._bytes_read if self._file is None else self._file.bytes_read

    @property
    def complete(self) -> bool:
        """Whether every fragment of every tensor has been read (nothing is left to refine)."""
        return not self._decoders

    def load(self, quality: float | None, fragments: int | None) -> None:
        """Decode every tensor to `quality` or from `fragments` fragments (all by default)."""
        changed = self.fetch(quality, fragments)
        for name, decoder in self._decoders.items():
            if not decoder.can_reconstruct():
                raise ArtifactError(f"{self.here}: tensor {name!r}: nothing decodes")
            self.arrays[name] = decoder.reconstruct()
        self.settle(changed)

    def fetch(self, quality: float | None, fragments: int | None) -> dict[str, Any]:
        """Feed each tensor the further fragments that `quality` (or a total of `fragments`;
        every one when both are None) needs: none where it is reached already, so a lower
        target changes nothing. The decoders that took any since their tensor was last
        written, by name (`settle` records them once it is). Raises ArtifactError, naming
        the fragment, for one that fails its checksum."""
        if self._file is None:
            return {}
        for name, decoder in self._decoders.items():
            if self._feed(name, decoder, quality, fragments):
                self._pending[name] = decoder
        return dict(self._pending)

    def _feed(self, name: str, decoder: Any, quality: float | None, fragments: int | None) -> bool:
        assert self._file is not None
        header = decoder.header
        limit = header.fragments if fragments is None else min(fragments, header.fragments)
        start = self._next[name]
        while self._next[name] < limit:
            if quality is not None and decoder.can_reconstruct() and decoder.quality() >= quality:
                break
            problems: list[Any] = []
            found = self._file.fragment(name, self._next[name], problems)
            if found is not None and not decoder.add_fragment(found, self._file.where):
                problems += decoder.problems[-1:]
            if problems:
                self.reached.problems += [str(p) for p in problems]
                raise ArtifactError(f"{self.here}: {'; '.join(str(p) for p in problems)}")
            self._next[name] += 1
            self.fragments_read += 1
        return self._next[name] > start

    def settle(self, changed: dict[str, Any]) -> None:
        """Record what the `changed` decoders reached, once their tensors are written; drop
        their cached reconstructions, and the decoders with nothing left to read."""
        for name, decoder in changed.items():
            self._pending.pop(name, None)
            header = decoder.header
            self.reached.tensors[name] = TensorQuality(
                decoder.quality(), len(decoder.used()), header.fragments,
                decoder.complete() and header.lossless, header.norm,
            )  # fmt: skip
            decoder.release()
            if self._next[name] >= header.fragments:
                del self._decoders[name]
        if not self._decoders and self._file is not None:
            self._bytes_read = self._file.bytes_read
            self._file.source.close()
            self._file = None


def decode_holotensor(
    container: Container,
    doc: dict[str, Any],
    quality: float | None,
    fragments: int | None,
    where: str,
) -> ProgressiveWeights:
    """Every tensor of the manifest's `holotensor` section decoded to `quality` (or from
    `fragments` fragments; all by default): the arrays, what was reached, and the decoders
    that `Model.refine` continues from.

    The section's checksum is checked first; a corrupt one raises ArtifactError naming the
    fragments at fault, as does a fragment that fails its own checksum when it is needed.
    """
    from hologram.artifact.model_json import field
    from hologram.holotensor.files import HoloTensorFile

    section = field(doc, "section", str, where)
    source = container.source
    if section not in container:
        raise ArtifactError(f"{where}: no section {section!r} in the file")
    found = container.info(section).kind
    if found != KIND_HOLOTENSOR:
        raise ArtifactError(f"{source}: section {section!r}: kind is {found!r}, not "
                            f"{KIND_HOLOTENSOR!r}")  # fmt: skip
    try:
        payload = container.read(section)
    except ArtifactError as exc:
        raise ArtifactError(f"{exc}{_fragment_faults(container, section)}") from None
    here = f"{source}: section {section!r}"
    try:
        file = HoloTensorFile(payload, strict=True)
    except HologramError as exc:
        raise ArtifactError(f"{here}: {exc}") from None
    names = field(doc, "tensors", list, where)
    for name in names:
        if not isinstance(name, str) or name not in file.headers:
            file.source.close()
            raise ArtifactError(f"{here}: no tensor {name!r:.80}")
    weights = ProgressiveWeights(file, names, here)
    try:
        weights.load(quality, fragments)
    except BaseException:
        file.source.close()
        raise
    return weights


def _fragment_faults(container: Container, section: str) -> str:
    """Which fragments of a section that failed its checksum are corrupt, as a suffix."""
    from hologram.holotensor.files import HoloTensorFile

    try:
        with HoloTensorFile(container.read_unchecked(section)) as file:
            issues = file.verify()
    except HologramError as exc:
        return f" ({exc})"
    return f" ({'; '.join(issues)})" if issues else ""
