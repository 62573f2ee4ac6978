"""What a decoder knows before any fragment arrives (`HoloTensorHeader`), the fragments
themselves, and an encoded tensor (a header with its fragments)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xxhash

from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.quality import QualityCurve

FLAG_LOSSLESS = 1
"""Every fragment together reconstructs the tensor bit for bit."""
FLAG_ANY_SUBSET = 2
"""Any subset of fragments (holding the essential ones) reconstructs an approximation; without
this flag only a leading run of fragments is used."""
KNOWN_FLAGS = FLAG_LOSSLESS | FLAG_ANY_SUBSET

DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
          "uint8", "uint16", "uint32", "uint64", "bool")  # fmt: skip
"""Element types a HoloTensor may hold (the lossy encodings take the floating ones)."""
MAX_FRAGMENTS = 1 << 16


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype of a header's dtype name (`bfloat16` from `ml_dtypes`)."""
    if name not in DTYPES:
        raise HoloTensorError(f"unsupported dtype {name!r}; one of {', '.join(DTYPES)}")
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def dtype_name(dtype: Any) -> str:
    """The header's name of a NumPy dtype, refusing the ones a HoloTensor cannot hold."""
    name = np.dtype(dtype).name
    if name not in DTYPES:
        raise HoloTensorError(f"unsupported dtype {name!r}; one of {', '.join(DTYPES)}")
    return name


def fragment_checksum(payload: bytes | memoryview, index: int) -> int:
    """XXH3-64 of a fragment's payload, seeded with its index: a payload moved to another
    fragment's place fails its checksum."""
    return xxhash.xxh3_64_intdigest(payload, seed=index)


@dataclass(frozen=True)
class Fragment:
    """Fragment `index` of a tensor: its payload bytes (as the encoding made them)."""

    index: int
    payload: bytes


@dataclass(frozen=True)
class HoloTensorHeader:
    """A tensor's description: encoding and its parameters, shape, dtype, fragment count, flags,
    the quality curve, and each fragment's size and checksum.

    `essential` leading fragments must all be present before anything can be reconstructed.
    """

    encoding: str
    shape: tuple[int, ...]
    dtype: str
    fragments: int
    quality: QualityCurve
    checksums: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)
    essential: int = 1
    flags: int = 0
    norm: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        where = f"tensor {self.name!r}" if self.name else "tensor"
        if not 1 <= self.fragments <= MAX_FRAGMENTS:
            raise HoloTensorError(f"{where}: fragment count {self.fragments} not in 1..65536")
        if len(self.checksums) != self.fragments or self.quality.fragments != self.fragments:
            raise HoloTensorError(f"{where}: checksums and quality curve must cover every fragment")
        if not 0 <= self.essential <= self.fragments:
            raise HoloTensorError(f"{where}: essential {self.essential} > {self.fragments}")
        if self.flags & ~KNOWN_FLAGS:
            raise HoloTensorError(f"{where}: unknown flags {self.flags:#x}")
        if any(not isinstance(d, int) or d < 0 for d in self.shape):
            raise HoloTensorError(f"{where}: bad shape {self.shape}")
        numpy_dtype(self.dtype)

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of the tensor itself, in its dtype."""
        return self.size * numpy_dtype(self.dtype).itemsize

    @property
    def lossless(self) -> bool:
        """Whether every fragment together gives the tensor back bit for bit."""
        return bool(self.flags & FLAG_LOSSLESS)

    def fragment_size(self, index: int) -> int:
        """Payload bytes of fragment `index`."""
        return self.quality.sizes[index + 1] - self.quality.sizes[index]

    def check(self, fragment: Fragment) -> str | None:
        """Why `fragment` does not belong to this tensor (None when it does)."""
        if not 0 <= fragment.index < self.fragments:
            return f"fragment index {fragment.index} not in 0..{self.fragments - 1}"
        if len(fragment.payload) != self.fragment_size(fragment.index):
            return (
                f"fragment {fragment.index}: {len(fragment.payload)} bytes, "
                f"expected {self.fragment_size(fragment.index)}"
            )
        if fragment_checksum(fragment.payload, fragment.index) != self.checksums[fragment.index]:
            return f"fragment {fragment.index}: checksum mismatch"
        return None

    def to_json(self) -> dict[str, Any]:
        """The header as one entry of a file's manifest."""
        return {
            "name": self.name, "encoding": self.encoding, "params": self.params,
            "shape": list(self.shape), "dtype": self.dtype, "fragments": self.fragments,
            "essential": self.essential, "flags": self.flags, "norm": self.norm,
            "quality": self.quality.to_json(), "checksums": [f"{c:016x}" for c in self.checksums],
        }  # fmt: skip

    @classmethod
    def from_json(cls, doc: Any, where: str) -> HoloTensorHeader:
        """Parse a manifest entry, naming `where` (the file and JSON path) in every error."""
        if not isinstance(doc, dict):
            raise HoloTensorError(f"{where}: must be an object")
        types = {"name": str, "encoding": str, "params": dict, "shape": list, "dtype": str,
                 "fragments": int, "essential": int, "flags": int, "norm": (int, float),
                 "quality": dict, "checksums": list}  # fmt: skip
        for key, kind in types.items():
            value = doc.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise HoloTensorError(f"{where}.{key}: missing or not of the right type")
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in doc["shape"]):
            raise HoloTensorError(f"{where}.shape: must be a list of integers")
        try:
            checksums = tuple(int(c, 16) for c in doc["checksums"])
        except (TypeError, ValueError):
            raise HoloTensorError(f"{where}.checksums: must be hexadecimal strings") from None
        quality = QualityCurve.from_json(doc["quality"], f"{where}.quality")
        try:
            return cls(
                encoding=doc["encoding"], shape=tuple(doc["shape"]), dtype=doc["dtype"],
                fragments=doc["fragments"], quality=quality, checksums=checksums,
                params=doc["params"], essential=doc["essential"], flags=doc["flags"],
                norm=float(doc["norm"]), name=doc["name"],
            )  # fmt: skip
        except HoloTensorError as exc:
            raise HoloTensorError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class EncodedTensor:
    """A tensor encoded into fragments: its header and every fragment, in order."""

    header: HoloTensorHeader
    fragments: tuple[Fragment, ...]

    @property
    def nbytes(self) -> int:
        """Bytes of all the fragments' payloads."""
        return sum(len(f.payload) for f in self.fragments)
