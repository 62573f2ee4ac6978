"""Reconstruction on the device: the decoder's arithmetic as ISA kernels.

The host does what only it can (zstd, unpacking bits into codes); the device turns codes into
weights, so that only the codes cross the bus (`int16` for up to 15 planes: half the bytes of
float32) and the weights are made where they are used:

- `dequantize_bitplanes`: codes and fp16 group scales -> weights (BitPlane);
- `outer_accumulate`: `out += a @ b.T` as a sum of outer products (LowRankDistributed, and the
  low-rank stage of BitPlane);
- the inverse DCT of Spectral: two launches of the stdlib matrix product with the DCT bases.

`reconstruct_on(executor, decoder)` runs them for a decoder's current fragments and returns a
float32 `Buffer`. Each kernel computes what the NumPy decoder computes, in float32: for
BitPlane, `(|c| + 0.5) * scale` rounds once and the power-of-two step is exact, so the bits
match the host's float32 result.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import hologram as hg
from hologram.holotensor.bitplane import GROUP, BitPlaneState
from hologram.holotensor.decoder import HoloTensorDecoder
from hologram.holotensor.encoding import as_matrix, coefficient_dtype
from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.spectral import bands, frequency_order
from hologram.holotensor.streams import read_array, split_streams

BLOCK = 256


@hg.kernel
def dequantize_bitplanes(
    codes: hg.Array,
    scales: hg.Array[hg.float16],
    out: hg.Array[hg.float32],
    n: hg.int32,
    step: hg.float32,
    group: hg.Const[int] = GROUP,
):
    """out[i] = sign(c) * (|c| + 0.5) * scale[i // group] * step for a code c != 0, else 0."""
    i = hg.global_id()
    if i < n:
        c = hg.int32(codes[i])
        value = (hg.float32(abs(c)) + 0.5) * hg.float32(scales[i // group]) * step
        out[i] = value if c > 0 else (-value if c < 0 else 0.0)


@hg.kernel
def outer_accumulate(
    a: hg.Array,
    b: hg.Array,
    out: hg.Array[hg.float32],
    rows: hg.int32,
    cols: hg.int32,
    rank: hg.int32,
):
    """out[r, c] += sum over k of a[r, k] * b[c, k] (`a` rows x rank, `b` cols x rank)."""
    i = hg.global_id()
    if i < rows * cols:
        r = i // cols
        c = i % cols
        acc = out[i]
        for k in range(rank):
            acc += hg.float32(a[r * rank + k]) * hg.float32(b[c * rank + k])
        out[i] = acc


def dct_basis(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix `C` (`coeffs = C @ x`; the inverse is `C.T @ coeffs`)."""
    k = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    basis = np.cos(np.pi * (2 * j + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


def reconstruct_on(executor: Any, decoder: HoloTensorDecoder) -> Any:
    """The decoder's current reconstruction, computed by ISA kernels on `executor`: a flat
    float32 `Buffer` of the tensor's size (reshape its `to_numpy()` to the header's shape)."""
    header = decoder.header
    used = decoder.used()
    if not used:
        raise HoloTensorError(f"tensor {header.name!r}: nothing to reconstruct yet")
    payloads = {i: decoder._payloads[i] for i in used}
    if header.encoding == "bitplane":
        return _bitplane(executor, header, payloads)
    if header.encoding == "low_rank":
        return _low_rank(executor, header, payloads)
    if header.encoding == "spectral":
        return _spectral(executor, header, payloads)
    raise HoloTensorError(f"no device reconstruction for the {header.encoding} encoding")


def _bitplane(executor: Any, header: Any, payloads: dict[int, bytes]) -> Any:
    where = f"tensor {header.name!r}"
    if header.params.get("rotation"):
        raise HoloTensorError(f"{where}: the Hadamard stage is reconstructed on the host")
    state = BitPlaneState.parse(header, payloads[0], where)
    for plane in range(min(len(payloads), state.planes)):
        state.add_plane(plane, payloads[plane], where)
    codes = np.where(state.negative, -state.codes.astype(np.int32), state.codes.astype(np.int32))
    codes = codes.astype(np.int16 if state.planes <= 15 else np.int32)
    step = 2.0 ** (state.planes - state.received) * float(header.params["unit"])
    size = header.size
    out = executor.allocate(max(size, 1), "f32")
    grid = hg.blocks(max(size, 1), BLOCK)
    dequantize_bitplanes[grid, BLOCK](codes, state.scales, out, size, step, executor=executor)
    if state.a is not None and state.b is not None:
        rows, cols = as_matrix(header.shape)
        args = (state.a, state.b, out, rows, cols, state.a.shape[1])
        outer_accumulate[hg.blocks(size, BLOCK), BLOCK](*args, executor=executor)
    return out


def _low_rank(executor: Any, header: Any, payloads: dict[int, bytes]) -> Any:
    rows, cols = as_matrix(header.shape)
    rank = int(header.params["rank"])
    dtype = coefficient_dtype(header.dtype)
    out = executor.from_numpy(np.zeros(rows * cols, np.float32))
    for index, part in enumerate(np.array_split(np.arange(rank), header.fragments)):
        if index in payloads:
            where = f"tensor {header.name!r} fragment {index}"
            left, right = split_streams(payloads[index], 2, where)
            a = read_array(left, dtype, rows * part.size, where).astype(np.float32)
            b = read_array(right, dtype, cols * part.size, where).astype(np.float32)
            args = (a, b, out, rows, cols, part.size)
            outer_accumulate[hg.blocks(rows * cols, BLOCK), BLOCK](*args, executor=executor)
    return out


def _spectral(executor: Any, header: Any, payloads: dict[int, bytes]) -> Any:
    from hologram import kernels

    rows, cols = as_matrix(header.shape)
    dtype = coefficient_dtype(header.dtype)
    ordered = np.zeros(rows * cols, np.float32)
    for index, part in enumerate(bands(rows * cols, header.fragments)):
        if index in payloads:
            where = f"tensor {header.name!r} fragment {index}"
            (data,) = split_streams(payloads[index], 1, where)
            ordered[part] = read_array(data, dtype, part.size, where)
    coeffs = np.zeros(rows * cols, np.float32)
    coeffs[frequency_order(rows, cols)] = ordered
    matmul = kernels.load("linalg/matmul")
    middle = executor.allocate(rows * cols, "f32")
    out = executor.allocate(rows * cols, "f32")
    # x = C_rows.T @ Y @ C_cols: the transpose of the first basis is the intrinsic's trans_a.
    matmul[1, 1](dct_basis(rows).ravel(), coeffs, middle, rows, cols, rows, 1, True, False,
                 executor=executor)  # fmt: skip
    matmul[1, 1](middle, dct_basis(cols).ravel(), out, rows, cols, cols, executor=executor)
    assert math.prod(header.shape) == rows * cols
    return out
