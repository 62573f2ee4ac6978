"""`Raw`: the tensor's bytes in one fragment, zstd-coded where that helps. Lossless, for any
dtype: what a model file uses for integer tensors and for tensors too small to be worth more."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hologram.holotensor.encoding import EncodeResult, Encoding, register
from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.header import FLAG_LOSSLESS, HoloTensorHeader, numpy_dtype
from hologram.holotensor.streams import join_streams, read_array, split_streams


@register
class Raw(Encoding):
    """One fragment holding the tensor's little-endian bytes."""

    name = "raw"
    default_fragments = 1

    def encode(self, tensor: np.ndarray, fragments: int, seed: int) -> EncodeResult:
        """Store `tensor` as it is, in one fragment."""
        if fragments != 1:
            raise HoloTensorError(f"raw makes exactly 1 fragment, not {fragments}")
        little = tensor.astype(tensor.dtype.newbyteorder("<"), copy=False)
        error = 1.0 if np.any(tensor) else 0.0
        return EncodeResult({}, [join_streams([little.tobytes()])], [error, 0.0],
                            essential=1, flags=FLAG_LOSSLESS)  # fmt: skip

    def decode(self, header: HoloTensorHeader, payloads: Mapping[int, bytes]) -> np.ndarray:
        """The stored bytes, as the tensor."""
        dtype = numpy_dtype(header.dtype)
        where = f"tensor {header.name!r}"
        (data,) = split_streams(payloads[0], 1, where)
        little = read_array(data, dtype.newbyteorder("<"), header.size, where)
        return little.astype(dtype).reshape(header.shape)
