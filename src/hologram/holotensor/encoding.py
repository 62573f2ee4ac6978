"""The `Encoding` interface every codec implements, and the registry that finds one by name.

An encoding turns a tensor into ordered fragment payloads plus the parameters a decoder needs
(stored in the header), and measures the quality curve while it has the original at hand. It
decodes from the payloads of whichever fragments it can use: a leading run of them by default,
any subset when the encoding says so (`FLAG_ANY_SUBSET`).

An encoding may also decode incrementally (`Encoding.start`): a `DecodeState` takes the
fragments in order, one at a time, keeping what the next one builds on, so that refining
costs only the new fragments. Its result after each prefix is bit for bit `decode`'s.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.header import FLAG_ANY_SUBSET, HoloTensorHeader, numpy_dtype

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


@dataclass
class EncodeResult:
    """What `Encoding.encode` returns: header parameters, payloads, and the error after each
    prefix of `k` fragments (`k = 0 .. n`)."""

    params: dict[str, Any]
    payloads: list[bytes]
    errors: list[float]
    essential: int = 1
    flags: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class DecodeState(ABC):
    """A decoding resumed fragment by fragment: `add` takes fragment `taken` (the next of the
    leading run), `result` reconstructs from those taken so far, bit for bit as
    `Encoding.decode` does from the same payloads. `nbytes` is the memory it holds."""

    taken: int = 0

    @abstractmethod
    def add(self, index: int, payload: bytes) -> None:
        """Take fragment `index`, which must be the next one (`taken`); raises
        HoloTensorError for a payload that does not decode."""

    @abstractmethod
    def result(self) -> np.ndarray:
        """The tensor from the fragments taken, in the header's shape and dtype."""

    @property
    @abstractmethod
    def nbytes(self) -> int:
        """Bytes of the arrays the state keeps between fragments."""


class Encoding(ABC):
    """A progressive tensor codec. Subclasses set `name` and register with `@register`."""

    name: ClassVar[str]
    default_fragments: ClassVar[int] = 8

    @abstractmethod
    def encode(self, tensor: np.ndarray, fragments: int, seed: int) -> EncodeResult:
        """Encode `tensor` into `fragments` payloads; `seed` fixes any randomness."""

    @abstractmethod
    def decode(self, header: HoloTensorHeader, payloads: Mapping[int, bytes]) -> np.ndarray:
        """Reconstruct from `payloads` (fragment index -> payload, as chosen by `usable`), in the
        header's shape and dtype."""

    def start(self, header: HoloTensorHeader) -> DecodeState | None:
        """A state that decodes `header`'s fragments incrementally, in order; None where the
        encoding has none (each reconstruction then decodes from the first fragment)."""
        return None

    def usable(self, header: HoloTensorHeader, present: set[int]) -> list[int]:
        """The fragments of `present` that `decode` uses: every one for any-subset encodings
        (once the essential ones are there), else the leading run."""
        if any(i not in present for i in range(header.essential)):
            return []
        if header.flags & FLAG_ANY_SUBSET:
            return sorted(present)
        run = 0
        while run in present:
            run += 1
        return list(range(run))

    def estimate_error(self, header: HoloTensorHeader, used: list[int]) -> float:
        """Relative error of decoding from `used`: exact from the curve for a leading run, and
        from the per-fragment energies that orthogonal encodings store for any other subset."""
        if used == list(range(len(used))):
            return header.quality.error(len(used))
        energies = header.params.get("energies")
        if not isinstance(energies, list) or len(energies) != header.fragments:
            return header.quality.error(0)
        captured = sum(float(energies[i]) for i in used)
        return math.sqrt(max(0.0, 1.0 - captured))


ENCODINGS: dict[str, type[Encoding]] = {}


def register(cls: type[Encoding]) -> type[Encoding]:
    """Class decorator: make an encoding findable by its `name`."""
    ENCODINGS[cls.name] = cls
    return cls


def encoding_named(name: str, **options: Any) -> Encoding:
    """The encoding registered as `name` (`bitplane`, `spectral`, ...), built with `options`."""
    from hologram.holotensor import bitplane, low_rank, random_projection, raw, spectral  # noqa: F401

    if name not in ENCODINGS:
        raise HoloTensorError(f"unknown encoding {name!r}; one of {', '.join(sorted(ENCODINGS))}")
    return ENCODINGS[name](**options)


def floating_input(tensor: np.ndarray, encoding: str) -> np.ndarray:
    """`tensor` as float64, refusing non-floating dtypes and non-finite values."""
    name = tensor.dtype.name
    if name not in FLOAT_DTYPES:
        raise HoloTensorError(f"{encoding} encodes floating tensors, not {name}")
    values = np.asarray(tensor, np.float64)
    if not np.all(np.isfinite(values)):
        raise HoloTensorError(f"{encoding} needs finite values (use bitplane or raw)")
    return values


def as_matrix(shape: tuple[int, ...]) -> tuple[int, int]:
    """The 2-D view the matrix encodings take: leading axes folded into rows."""
    if not shape:
        return 1, 1
    cols = shape[-1]
    return (math.prod(shape[:-1]) if len(shape) > 1 else 1), cols


def coefficient_dtype(dtype_name: str) -> np.dtype:
    """Storage dtype of transform coefficients: float64 for float64 tensors, else float32."""
    return np.dtype(np.float64 if dtype_name == "float64" else np.float32)


def to_dtype(values: np.ndarray, header: HoloTensorHeader) -> np.ndarray:
    """`values` reshaped and cast to the header's shape and dtype."""
    return np.asarray(values).reshape(header.shape).astype(numpy_dtype(header.dtype))


def energy_fractions(parts: list[float], total: float) -> list[float]:
    """Each fragment's share of the squared norm (for any-subset error estimates)."""
    return [float(p / total) if total > 0 else 0.0 for p in parts]


def prefix_errors(errors_sq: np.ndarray, total: float) -> list[float]:
    """Relative errors from the squared residual norms after each prefix."""
    if total == 0:
        return [0.0] * len(errors_sq)
    return [float(math.sqrt(max(0.0, e) / total)) for e in errors_sq]
