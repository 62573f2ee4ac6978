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

    def decode(self, header: HoloTensorHeader, payloads: Mapping[int, bytes]) -> np.ndarray:
        """The sum of the components present."""
        rows, cols = as_matrix(header.shape)
        rank = header.params.get("rank")
        if not isinstance(rank, int) or not header.fragments <= rank <= min(rows, cols):
            raise HoloTensorError(f"tensor {header.name!r}: bad rank {rank!r}")
        dtype = coefficient_dtype(header.dtype)
        out = np.zeros((rows, cols), np.float64)
        for index, part in enumerate(np.array_split(np.arange(rank), header.fragments)):
            if index in payloads:
                where = f"tensor {header.name!r} fragment {index}"
                left, right = split_streams(payloads[index], 2, where)
                a = read_array(left, dtype, rows * part.size, where).reshape(rows, part.size)
                b = read_array(right, dtype, cols * part.size, where).reshape(cols, part.size)
                out += a.astype(np.float64) @ b.astype(np.float64).T
        return to_dtype(out, header)
