"""`RandomProjection`: seeded random projections, reconstructed by least squares from whichever
fragments arrived.

The flattened tensor is cut into blocks of `b` values (`b = min(size, 512)`, zero-padded). A
random orthogonal `b x b` matrix `Q` is generated from the seed (QR of a Gaussian matrix,
`numpy.random.default_rng(seed)`), and fragment `k` holds the projections `X @ Q[:, cols_k]` of
every block onto its share of `Q`'s columns. From the columns `S` that arrived, the least
squares estimate is `Y_S @ Q_S.T` (the columns are orthonormal), and all of them give `X` back.

The error after `k` of `n` fragments follows `sqrt(1 - k/n)` whatever the data: this encoding is
for robustness (any fragments serve equally), not for compression.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hologram.holotensor.encoding import (
    EncodeResult,
    Encoding,
    coefficient_dtype,
    energy_fractions,
    floating_input,
    register,
    to_dtype,
)
from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.header import FLAG_ANY_SUBSET, HoloTensorHeader
from hologram.holotensor.quality import relative_error
from hologram.holotensor.streams import join_streams, read_array, split_streams

MAX_BLOCK = 512


def projection(block: int, seed: int) -> np.ndarray:
    """The orthogonal `block x block` matrix of `seed` (signs fixed so QR's choice is unique)."""
    gaussian = np.random.default_rng(seed).standard_normal((block, block))
    q, r = np.linalg.qr(gaussian)
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


@register
class RandomProjection(Encoding):
    """Projections onto seeded random orthonormal directions, split across fragments."""

    name = "random_projection"

    def encode(self, tensor: np.ndarray, fragments: int, seed: int) -> EncodeResult:
        """Project blocks of `tensor` and share the projections among fragments."""
        values = floating_input(tensor, self.name).ravel()
        block = max(1, min(values.size, MAX_BLOCK))
        if fragments > block:
            raise HoloTensorError(f"random_projection: {fragments} fragments for blocks of {block}")
        blocks = _blocks(values, block)
        q = projection(block, seed)
        y = (blocks @ q).astype(coefficient_dtype(tensor.dtype.name))
        parts = np.array_split(np.arange(block), fragments)
        payloads = [join_streams([np.ascontiguousarray(y[:, p]).tobytes()]) for p in parts]
        stored = y.astype(np.float64)
        energies = [float(np.sum(stored[:, p] ** 2)) for p in parts]
        total = float(np.sum(values * values))
        # Measured per prefix: the padding of the last block makes energy sums an upper bound.
        errors = [relative_error(values, np.zeros_like(values))]
        estimate = np.zeros_like(stored)
        for p in parts:
            estimate += stored[:, p] @ q[:, p].T
            errors.append(relative_error(values, estimate.ravel()[: values.size]))
        params = {"seed": int(seed), "block": block, "energies": energy_fractions(energies, total)}
        return EncodeResult(params, payloads, errors, essential=0, flags=FLAG_ANY_SUBSET)

    def decode(self, header: HoloTensorHeader, payloads: Mapping[int, bytes]) -> np.ndarray:
        """Least squares from the projections present."""
        block, seed = header.params.get("block"), header.params.get("seed")
        if not isinstance(block, int) or not 1 <= block <= MAX_BLOCK or not isinstance(seed, int):
            raise HoloTensorError(f"tensor {header.name!r}: bad projection parameters")
        count = max(1, -(-header.size // block))
        q = projection(block, seed)
        dtype = coefficient_dtype(header.dtype)
        estimate = np.zeros((count, block), np.float64)
        for index, part in enumerate(np.array_split(np.arange(block), header.fragments)):
            if index in payloads:
                where = f"tensor {header.name!r} fragment {index}"
                (data,) = split_streams(payloads[index], 1, where)
                y = read_array(data, dtype, count * part.size, where).reshape(count, part.size)
                estimate += y.astype(np.float64) @ q[:, part].T
        return to_dtype(estimate.ravel()[: header.size], header)


def _blocks(values: np.ndarray, block: int) -> np.ndarray:
    count = max(1, -(-values.size // block))
    padded = np.zeros(count * block, np.float64)
    padded[: values.size] = values
    return padded.reshape(count, block)
