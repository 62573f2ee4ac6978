"""`Spectral`: an orthonormal 2-D DCT-II (scipy.fft) whose coefficients are sent lowest
frequencies first.

The tensor is viewed as a matrix (leading axes folded into rows). Its coefficients are ordered
by normalised frequency radius, `(i / rows)**2 + (j / cols)**2`, DC first (a zig-zag order), and
cut into `n` bands of equal count, one per fragment. Any subset of fragments reconstructs (the
missing bands count as zero); every fragment reconstructs the tensor to float32 rounding.

This pays on smooth data (images, fields, position embeddings). Trained weight matrices have no
spectral compaction, since the order of neurons is arbitrary: there BitPlane is far better.
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
from hologram.holotensor.streams import join_streams, read_array, split_streams


def _fft():
    try:
        import scipy.fft
    except ImportError:
        raise HoloTensorError(
            "the spectral encoding needs scipy: pip install 'hologram[holotensor]'"
        ) from None
    return scipy.fft


def frequency_order(rows: int, cols: int) -> np.ndarray:
    """Flat coefficient indices by normalised frequency radius, DC first (ties by index)."""
    i = np.arange(rows, dtype=np.float64)[:, None] / rows
    j = np.arange(cols, dtype=np.float64)[None, :] / cols
    return np.argsort((i * i + j * j).ravel(), kind="stable")


def bands(count: int, fragments: int) -> list[np.ndarray]:
    """Positions `0 .. count-1` cut into `fragments` runs of (nearly) equal length."""
    return np.array_split(np.arange(count), fragments)


@register
class Spectral(Encoding):
    """2-D DCT coefficients in frequency bands, one band per fragment."""

    name = "spectral"

    def encode(self, tensor: np.ndarray, fragments: int, seed: int) -> EncodeResult:
        """Transform `tensor` and cut its ordered coefficients into bands."""
        values = floating_input(tensor, self.name)
        rows, cols = as_matrix(tensor.shape)
        if fragments > rows * cols:
            raise HoloTensorError(f"spectral: {fragments} fragments for {rows * cols} values")
        coeffs = _fft().dctn(values.reshape(rows, cols), type=2, norm="ortho").ravel()
        exact = coeffs[frequency_order(rows, cols)]
        ordered = exact.astype(coefficient_dtype(tensor.dtype.name))
        parts = bands(ordered.size, fragments)
        payloads = [join_streams([ordered[p].tobytes()]) for p in parts]
        stored = ordered.astype(np.float64)
        # From the unrounded coefficients: the missing bands' energy is the error (Parseval).
        energies = [float(np.sum(exact[p] ** 2)) for p in parts]
        total = float(np.sum(values * values))
        errors = prefix_errors(total - np.concatenate([[0.0], np.cumsum(energies)]), total)
        header_like = _Shape(tensor.shape, tensor.dtype.name)
        full = self._inverse(header_like, stored)
        errors[-1] = relative_error(values, full)
        params = {"energies": energy_fractions(energies, total)}
        return EncodeResult(params, payloads, errors, essential=0, flags=FLAG_ANY_SUBSET)

    def decode(self, header: HoloTensorHeader, payloads: Mapping[int, bytes]) -> np.ndarray:
        """Inverse DCT of the bands present (the others zero)."""
        rows, cols = as_matrix(header.shape)
        dtype = coefficient_dtype(header.dtype)
        ordered = np.zeros(rows * cols, np.float64)
        for index, part in enumerate(bands(rows * cols, header.fragments)):
            if index in payloads:
                where = f"tensor {header.name!r} fragment {index}"
                (data,) = split_streams(payloads[index], 1, where)
                ordered[part] = read_array(data, dtype, part.size, where)
        return to_dtype(self._inverse(header, ordered), header)

    @staticmethod
    def _inverse(header, ordered: np.ndarray) -> np.ndarray:
        rows, cols = as_matrix(header.shape)
        coeffs = np.zeros(rows * cols, np.float64)
        coeffs[frequency_order(rows, cols)] = ordered
        return _fft().idctn(coeffs.reshape(rows, cols), type=2, norm="ortho")


class _Shape:
    """What `_inverse` needs of a header, before the header exists."""

    def __init__(self, shape: tuple[int, ...], dtype: str) -> None:
        self.shape, self.dtype = shape, dtype
