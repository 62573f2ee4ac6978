"""`LowRankDistributed`: a truncated SVD whose rank-1 components are spread across fragments,
largest first.

The tensor is viewed as a matrix (leading axes folded into rows). With `rank=None` every
component is kept (a full SVD) and all fragments give the tensor back to float32 rounding;
with a rank, randomized subspace iteration finds the leading components, and the curve shows
what the truncation costs. Any subset of fragments reconstructs (the sum of the components
present). It pays only where the spectrum is concentrated (position embeddings, smooth
fields); trained weight matrices need most of their rank.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hologram.holotensor.encoding import (
    DecodeState,
    EncodeResult,
    Encoding,
    as_matrix,
    coefficient_dtype,
    energy_fractions,
    floating_input,
    prefix_errors,
    register,
    to_dtype,
)
from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.header import FLAG_ANY_SUBSET, HoloTensorHeader
from hologram.holotensor.quality import relative_error
from hologram.holotensor.stages import randomized_svd
from hologram.holotensor.streams import join_streams, read_array, split_streams


@register
class LowRankDistributed(Encoding):
    """Scaled left and right singular vectors, a run of components per fragment."""

    name = "low_rank"

    def __init__(self, rank: int | None = None) -> None:
        if rank is not None and (not isinstance(rank, int) or rank < 1):
            raise HoloTensorError(f"low_rank: rank {rank!r} is not a positive integer or None")
        self.rank = rank

    def encode(self, tensor: np.ndarray, fragments: int, seed: int) -> EncodeResult:
        """Decompose `tensor` and share its components among fragments."""
        values = floating_input(tensor, self.name)
        rows, cols = as_matrix(tensor.shape)
        full = min(rows, cols)
        rank = full if self.rank is None else min(self.rank, full)
        if fragments > rank:
            raise HoloTensorError(f"low_rank: {fragments} fragments for {rank} components")
        matrix = values.reshape(rows, cols)
        u, s, vt = randomized_svd(matrix, rank, seed)
        dtype = coefficient_dtype(tensor.dtype.name)
        left, right = (u * s).astype(dtype), vt.T.astype(dtype)
        parts = np.array_split(np.arange(rank), fragments)
        payloads = [
            join_streams([np.ascontiguousarray(left[:, p]).tobytes(),
                          np.ascontiguousarray(right[:, p]).tobytes()])
            for p in parts
        ]  # fmt: skip
        energies = [float(np.sum(s[p] ** 2)) for p in parts]
        total = float(np.sum(matrix * matrix))
        errors = prefix_errors(total - np.concatenate([[0.0], np.cumsum(energies)]), total)
        approx = left.astype(np.float64) @ right.astype(np.float64).T
        errors[-1] = relative_error(matrix, approx)
        params = {"rank": rank, "energies": energy_fractions(energies, total)}
        return EncodeResult(params, payloads, errors, essential=0, flags=FLAG_ANY_SUBSET)

    def start(self, header: HoloTensorHeader) -> LowRankProgress:
        """An incremental decoding, in fragment order: the float64 sum so far."""
        return LowRankProgress(header)

    def decode(self, header: HoloTensorHeader, payloads: Mapping[int, bytes]) -> np.ndarray:
        """The sum of the components present."""
        progress = LowRankProgress(header)
        for index in sorted(payloads):
            progress.accumulate(index, payloads[index])
        return progress.result()


class LowRankProgress(DecodeState):
    """The sum of the components taken, in fragment order, kept in float64 (8 bytes per
    value): each further fragment adds only its own product."""

    def __init__(self, header: HoloTensorHeader) -> None:
        rows, cols = as_matrix(header.shape)
        rank = header.params.get("rank")
        if not isinstance(rank, int) or not header.fragments <= rank <= min(rows, cols):
            raise HoloTensorError(f"tensor {header.name!r}: bad rank {rank!r}")
        self.header, self.rows, self.cols = header, rows, cols
        self.parts = np.array_split(np.arange(rank), header.fragments)
        self.sum = np.zeros((rows, cols), np.float64)
        self.taken = 0

    def add(self, index: int, payload: bytes) -> None:
        """Add fragment `index`, the next one, to the sum."""
        if index != self.taken:
            raise HoloTensorError(
                f"tensor {self.header.name!r}: fragment {index} before fragment {self.taken}"
            )
        self.accumulate(index, payload)
        self.taken += 1

    def accumulate(self, index: int, payload: bytes) -> None:
        """Add fragment `index`'s components to the sum (any order; `decode` adds in index
        order, as `add` does, so both sum in the same order)."""
        where = f"tensor {self.header.name!r} fragment {index}"
        if not 0 <= index < len(self.parts):
            raise HoloTensorError(f"{where}: no such fragment")
        rows, cols, width = self.rows, self.cols, self.parts[index].size
        dtype = coefficient_dtype(self.header.dtype)
        left, right = split_streams(payload, 2, where)
        a = read_array(left, dtype, rows * width, where).reshape(rows, width)
        b = read_array(right, dtype, cols * width, where).reshape(cols, width)
        self.sum += a.astype(np.float64) @ b.astype(np.float64).T

    def result(self) -> np.ndarray:
        """The sum so far, in the tensor's shape and dtype."""
        return to_dtype(self.sum, self.header)

    @property
    def nbytes(self) -> int:
        """The float64 sum."""
        return self.sum.nbytes
