"""A compiled model's float weights as HoloTensor fragments (`hologram compile --holotensor`).

Writing: `HoloWeights` collects the float tensors the weight list diverts to it (identical
bytes once) and encodes them into one multi-tensor HoloTensor file, the payload of section
`holotensor` (kind `weights.holotensor`). Reading: `decode_holotensor` decodes each tensor to a
target quality or fragment count and reports what it reached (`WeightQuality`). The layout is
specified in `SPEC.md`, *HoloTensor weights*, and the payload in `holotensor/SPEC.md`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.errors import ArtifactError, HologramError

if TYPE_CHECKING:
    from hologram.artifact.container import Container

HOLOTENSOR_SECTION = "holotensor"
KIND_HOLOTENSOR = "weights.holotensor"
ENCODINGS = ("bitplane",)
"""Encodings `hologram.compile(holotensor=...)` accepts: the lossless one made for weights."""


@dataclass(frozen=True)
class TensorQuality:
    """One tensor as decoded: the quality reached (1 - relative Frobenius error, from the
    encode-time calibration), the fragments used out of those stored, and whether it is
    bit for bit the compiled tensor."""

    quality: float
    fragments: int
    total: int
    exact: bool


@dataclass
class WeightQuality:
    """What a progressive load reached: per tensor, and overall (the lowest tensor's)."""

    tensors: dict[str, TensorQuality] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def quality(self) -> float:
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
            f"WeightQuality({self.quality:.6f}, {len(self.tensors)} tensors, "
            f"{used}/{total} fragments{', exact' if self.exact else ''})"
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


def decode_holotensor(
    container: Container,
    doc: dict[str, Any],
    quality: float | None,
    fragments: int | None,
    where: str,
) -> tuple[dict[str, np.ndarray], WeightQuality]:
    """Every tensor of the manifest's `holotensor` section decoded to `quality` (or from
    `fragments` fragments; all by default), and what was reached.

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
    arrays: dict[str, np.ndarray] = {}
    reached = WeightQuality()
    with file:
        for name in names:
            if not isinstance(name, str) or name not in file.headers:
                raise ArtifactError(f"{here}: no tensor {name!r:.80}")
            result = file.decode(name, quality, fragments)
            reached.problems += [str(p) for p in result.problems]
            if result.problems or result.array is None:
                reason = "; ".join(str(p) for p in result.problems) or "nothing decodes"
                raise ArtifactError(f"{here}: {reason}")
            arrays[name] = result.array
            reached.tensors[name] = TensorQuality(
                result.quality, len(result.fragments), file.headers[name].fragments, result.exact
            )
    return arrays, reached


def _fragment_faults(container: Container, section: str) -> str:
    """Which fragments of a section that failed its checksum are corrupt, as a suffix."""
    from hologram.holotensor.files import HoloTensorFile

    try:
        with HoloTensorFile(container.read_unchecked(section)) as file:
            issues = file.verify()
    except HologramError as exc:
        return f" ({exc})"
    return f" ({'; '.join(issues)})" if issues else ""
