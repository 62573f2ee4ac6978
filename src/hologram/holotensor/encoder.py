"""`HoloTensorEncoder`: a tensor in, an `EncodedTensor` (header and ordered fragments) out.

encoded = HoloTensorEncoder("bitplane").with_fragments(9).with_seed(0).encode(weights)
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from hologram.holotensor.encoding import Encoding, encoding_named
from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.header import (
    EncodedTensor,
    Fragment,
    HoloTensorHeader,
    dtype_name,
    fragment_checksum,
)
from hologram.holotensor.quality import QualityCurve


class HoloTensorEncoder:
    """Encodes tensors with one encoding (an `Encoding`, or its name and options)."""

    def __init__(self, encoding: Encoding | str = "bitplane", **options: Any) -> None:
        if isinstance(encoding, str):
            encoding = encoding_named(encoding, **options)
        elif options:
            raise HoloTensorError("options go to the encoding's constructor, not with an instance")
        self.encoding = encoding
        self.fragments = encoding.default_fragments
        self.seed = 0

    def with_fragments(self, count: int) -> HoloTensorEncoder:
        """A copy of this encoder that makes `count` fragments."""
        if not isinstance(count, int) or count < 1:
            raise HoloTensorError(f"fragment count must be a positive integer, not {count!r}")
        other = copy.copy(self)
        other.fragments = count
        return other

    def with_seed(self, seed: int) -> HoloTensorEncoder:
        """A copy of this encoder whose random choices (projections, sketches) use `seed`."""
        other = copy.copy(self)
        other.seed = int(seed)
        return other

    def encode(self, tensor: Any, name: str = "") -> EncodedTensor:
        """Encode `tensor` (anything `np.asarray` takes) into header and fragments."""
        array = np.ascontiguousarray(np.asarray(tensor))
        dtype = dtype_name(array.dtype)
        result = self.encoding.encode(array, self.fragments, self.seed)
        if len(result.payloads) != self.fragments or len(result.errors) != self.fragments + 1:
            raise HoloTensorError(f"{self.encoding.name}: made a wrong number of fragments")
        finite = np.nan_to_num(np.asarray(array, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        header = HoloTensorHeader(
            encoding=self.encoding.name, shape=tuple(int(d) for d in array.shape), dtype=dtype,
            fragments=self.fragments,
            quality=QualityCurve.build(result.errors, [len(p) for p in result.payloads]),
            checksums=tuple(fragment_checksum(p, i) for i, p in enumerate(result.payloads)),
            params=result.params, essential=result.essential, flags=result.flags,
            norm=float(np.linalg.norm(finite.ravel())), name=name,
        )  # fmt: skip
        fragments = tuple(Fragment(i, p) for i, p in enumerate(result.payloads))
        return EncodedTensor(header, fragments)
