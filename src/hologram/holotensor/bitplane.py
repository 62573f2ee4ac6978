"""`BitPlane`: the default encoding for network weights.

Each group of 64 weights (in row-major order) has an fp16 scale `s` (times a per-tensor power
of two, `unit`). A weight's magnitude code is `m = floor(|x| / s)` on `planes` bits: a
deadzone quantizer, whose zero bin is twice as wide as the others. Fragment `j` (from 0) sends
bit-plane `j` of every code, most significant first, as three zstd-coded streams:

- significance bits: the plane's bit of each weight still zero so far (sparse in early planes);
- signs: one per weight whose code becomes non-zero in this plane;
- refinement bits: the plane's bit of each weight already non-zero (close to random).

Fragment 0 also holds the scales (and the stages' data, below). After `k` planes a weight with
known code `c != 0` reconstructs at the middle of its bin, `sign * (c + 0.5) * 2**(planes-k) *
s`. The last fragment holds the exact residual (`streams.residual_encode`), so the full set is
lossless. Optional stages, each used where it pays (`"auto"`): a low-rank part taken out
before quantizing, for matrices whose spectrum is concentrated, and a Hadamard rotation of each
group, for heavy-tailed tensors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from hologram.holotensor import stages
from hologram.holotensor.encoding import (
    FLOAT_DTYPES,
    DecodeState,
    EncodeResult,
    Encoding,
    as_matrix,
    register,
    to_dtype,
)
from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.header import FLAG_LOSSLESS, HoloTensorHeader, numpy_dtype
from hologram.holotensor.quality import relative_error
from hologram.holotensor.streams import (
    join_streams,
    read_array,
    residual_decode,
    residual_encode,
    split_streams,
    unpack_bits,
)

GROUP = 64
HEADROOM = 1.04
"""Scales are the group's largest magnitude times this over `2**planes`. It sets where the
planes' sizes fall: on Gaussian-like trained weights, 1.04 puts the 4th plane just under 15%
of float32 and the 7th under 25% (1.0 puts them 0.1% over). Error and size move together
along the same curve; only where the steps fall changes."""
MAX_PLANES = 16
SCALE_TOP = 2.0**15
"""The largest group scale, divided by `unit`, is below this: fp16 then spans the groups'
scales from 2**15 down to its subnormals, 2**-24."""


@register
class BitPlane(Encoding):
    """Sign-magnitude bit-planes per group of 64 with fp16 scales, plus an exact residual.

    `with_fragments(n)` sends `n - 1` planes and the residual. `low_rank` is `"auto"`, a rank,
    or None; `rotation` is `"auto"`, `"hadamard"` or None. `headroom` (at least 1) widens the
    scale, which moves where each plane's error and size fall.
    """

    name = "bitplane"
    default_fragments = 9

    def __init__(
        self,
        low_rank: int | str | None = "auto",
        rotation: str | None = "auto",
        headroom: float = HEADROOM,
        level: int = 9,
    ) -> None:
        if rotation not in ("auto", "hadamard", None):
            raise HoloTensorError(f"bitplane: rotation {rotation!r} is not auto/hadamard/None")
        if not (low_rank in ("auto", None) or (isinstance(low_rank, int) and low_rank >= 0)):
            raise HoloTensorError(f"bitplane: low_rank {low_rank!r} is not auto, a rank or None")
        if not 1.0 <= headroom <= 2.0:
            raise HoloTensorError(f"bitplane: headroom {headroom} not in [1, 2]")
        self.low_rank, self.rotation, self.headroom, self.level = (
            low_rank, rotation, headroom, level,
        )  # fmt: skip

    # ------------------------------------------------------------ encode
    def encode(self, tensor: np.ndarray, fragments: int, seed: int) -> EncodeResult:
        """Quantize `tensor` into `fragments - 1` planes and an exact residual."""
        if tensor.dtype.name not in FLOAT_DTYPES:
            raise HoloTensorError(f"bitplane encodes floating tensors, not {tensor.dtype.name}")
        planes = fragments - 1
        if not 1 <= planes <= MAX_PLANES:
            raise HoloTensorError(f"bitplane: {fragments} fragments, needs 2..{MAX_PLANES + 1}")
        original = np.ascontiguousarray(tensor)
        values = np.nan_to_num(original.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        rows, cols = as_matrix(original.shape)
        rank = self._rank(values.reshape(rows, cols), seed) if original.ndim >= 2 else 0
        a = b = None
        residual = values.reshape(rows, cols)
        if rank:
            a, b = stages.low_rank_factors(residual, rank, seed)
            residual = residual - stages.outer_sum(a, b)
        padded = _pad(residual.ravel())
        groups = padded.reshape(-1, GROUP)
        rotate = self.rotation == "hadamard" or (
            self.rotation == "auto" and stages.crest(groups) > stages.CREST_THRESHOLD
        )
        if rotate:
            groups = stages.hadamard(groups)
        scales, unit = _scales(np.abs(groups).max(axis=1), planes, self.headroom)
        step = np.repeat(scales.astype(np.float64) * unit, GROUP)
        with np.errstate(divide="ignore", invalid="ignore"):
            codes = np.where(step > 0, np.floor(np.abs(groups.ravel()) / step), 0)
        codes = np.minimum(codes, 2**planes - 1).astype(np.uint32)
        # A sign only exists for non-zero codes: the decoder learns no other.
        negative = (groups.ravel() < 0) & (codes > 0)
        params: dict[str, Any] = {
            "planes": planes, "group": GROUP, "unit": unit, "rotation": rotate, "rank": rank,
        }  # fmt: skip
        # The scales' high bytes (sign, exponent) are alike and compress apart from the low ones.
        meta = [scales.view(np.uint8).reshape(-1, 2).T.tobytes()]
        meta += [a.tobytes(), b.tobytes()] if rank else [b"", b""]
        payloads = []
        for plane in range(planes):
            streams = _plane_streams(codes, negative, planes, plane)
            payloads.append(join_streams((meta if plane == 0 else []) + streams, self.level))
        errors = [relative_error(values, np.zeros_like(values))]
        base = None
        for k in range(1, planes + 1):
            known = codes >> (planes - k)
            base = _approximate(known, negative, planes - k, scales, params, original.shape, a, b)
            errors.append(relative_error(values, base))
        assert base is not None
        exact = base.astype(original.dtype)
        payloads.append(join_streams(residual_encode(original, exact), self.level))
        errors.append(0.0)
        return EncodeResult(params, payloads, errors, essential=1, flags=FLAG_LOSSLESS)

    def _rank(self, matrix: np.ndarray, seed: int) -> int:
        if self.low_rank is None:
            return 0
        if self.low_rank == "auto":
            return stages.choose_rank(matrix, seed)
        return min(int(self.low_rank), *matrix.shape)

    # ------------------------------------------------------------ decode
    def start(self, header: HoloTensorHeader) -> BitPlaneProgress:
        """An incremental decoding of `header`'s fragments, in order (see `BitPlaneProgress`)."""
        return BitPlaneProgress(header)

    def decode(self, header: HoloTensorHeader, payloads: Mapping[int, bytes]) -> np.ndarray:
        """Reconstruct from the leading planes present (and the exact residual, if all are)."""
        progress = BitPlaneProgress(header)
        for index in range(len(payloads)):
            progress.add(index, payloads[index])
        return progress.result()


class BitPlaneProgress(DecodeState):
    """BitPlane decoded fragment by fragment: the codes and signs known so far (a
    `BitPlaneState`: 3 bytes per value, `uint16` codes and `bool` signs, plus the scales and
    low-rank factors), then the residual once every plane is in. A plane costs one pass of
    unpacking; `result` dequantizes and undoes the stages, as `BitPlane.decode` does."""

    def __init__(self, header: HoloTensorHeader) -> None:
        self.header = header
        self.where = f"tensor {header.name!r}" if header.name else "tensor"
        self.state: BitPlaneState | None = None
        self.residual: bytes | None = None
        self.taken = 0

    def add(self, index: int, payload: bytes) -> None:
        """Take fragment `index` (the next one): fragment 0 brings the scales, each fragment
        below `planes` a plane, the last one the residual."""
        if index != self.taken:
            raise HoloTensorError(f"{self.where}: fragment {index} before fragment {self.taken}")
        if self.state is None:
            self.state = BitPlaneState.parse(self.header, payload, self.where)
        planes = self.state.planes
        if index < planes:
            self.state.add_plane(index, payload, self.where)
        elif index == planes:
            self.residual = payload
        else:
            raise HoloTensorError(f"{self.where}: no fragment {index} after {planes} planes")
        self.taken += 1

    def result(self) -> np.ndarray:
        """The tensor from the fragments taken (zeros before any), in its shape and dtype."""
        header = self.header
        if self.state is None:
            return np.zeros(header.shape, numpy_dtype(header.dtype))
        base = self.state.values()
        if self.residual is None:
            return to_dtype(base, header)
        exact = base.astype(numpy_dtype(header.dtype))
        streams = split_streams(self.residual, exact.itemsize, f"{self.where} residual")
        return residual_decode(streams, exact, f"{self.where} residual")

    @property
    def nbytes(self) -> int:
        """The codes, signs, scales and factors kept (the payloads stay with their owner)."""
        state = self.state
        if state is None:
            return 0
        factors = sum(f.nbytes for f in (state.a, state.b) if f is not None)
        return state.codes.nbytes + state.negative.nbytes + state.scales.nbytes + factors


class BitPlaneState:
    """Codes known so far while planes arrive in order; `values()` dequantizes them."""

    def __init__(self, header: HoloTensorHeader, scales, a, b, params: dict[str, Any]) -> None:
        self.header, self.scales, self.a, self.b, self.params = header, scales, a, b, params
        self.planes = int(params["planes"])
        count = scales.size * GROUP
        # Codes have at most MAX_PLANES (16) bits.
        self.codes = np.zeros(count, np.uint16)
        self.negative = np.zeros(count, bool)
        self.received = 0

    @classmethod
    def parse(cls, header: HoloTensorHeader, first: bytes, where: str) -> BitPlaneState:
        """Read the scales and stage data of fragment 0, checking the header's parameters."""
        params = header.params
        planes, rank = params.get("planes"), params.get("rank")
        unit = params.get("unit")
        if (
            not isinstance(planes, int) or not 1 <= planes <= MAX_PLANES
            or planes + 1 != header.fragments or params.get("group") != GROUP
            or not isinstance(rank, int) or rank < 0 or not isinstance(unit, (int, float))
            or not isinstance(params.get("rotation"), bool) or header.dtype not in FLOAT_DTYPES
        ):  # fmt: skip
            raise HoloTensorError(f"{where}: bad bitplane parameters {params}")
        groups = -(-header.size // GROUP)
        rows, cols = as_matrix(header.shape)
        meta = split_streams(first, 6, f"{where} fragment 0")[:3]
        halves = read_array(meta[0], np.uint8, 2 * groups, f"{where} scales").reshape(2, -1)
        scales = np.ascontiguousarray(halves.T).view(np.float16).ravel()
        if rank and len(header.shape) < 2:
            raise HoloTensorError(f"{where}: a low-rank part needs a matrix")
        a = read_array(meta[1], np.float16, rows * rank, f"{where} factor a").reshape(rows, rank)
        b = read_array(meta[2], np.float16, cols * rank, f"{where} factor b").reshape(cols, rank)
        if not np.all(np.isfinite(scales)) or np.any(scales < 0):
            raise HoloTensorError(f"{where}: scales must be finite and not negative")
        return cls(header, scales, a if rank else None, b if rank else None, params)

    def add_plane(self, plane: int, payload: bytes, where: str) -> None:
        """Take plane `plane` (the next one) into the codes; a payload that does not decode
        raises HoloTensorError and changes nothing."""
        if plane != self.received:
            raise HoloTensorError(f"{where}: plane {plane} before plane {self.received}")
        streams = split_streams(payload, 6 if plane == 0 else 3, f"{where} fragment {plane}")
        significance, signs, refinement = streams[-3:]
        known = self.codes > 0
        count_known = int(np.count_nonzero(known))
        fresh_bits = unpack_bits(significance, known.size - count_known, f"{where} plane {plane}")
        known_bits = unpack_bits(refinement, count_known, f"{where} plane {plane}")
        bits = np.take(np.concatenate([fresh_bits, known_bits]), _bit_index(known, count_known))
        newly = np.flatnonzero(bits & ~known)
        sign_bits = unpack_bits(signs, newly.size, f"{where} plane {plane} signs")
        self.negative[newly] = sign_bits
        self.codes <<= np.uint16(1)
        self.codes |= bits
        self.received += 1

    def values(self) -> np.ndarray:
        """The approximation from the planes received so far, in the tensor's shape (float64)."""
        return _approximate(
            self.codes, self.negative, self.planes - self.received, self.scales,
            self.params, self.header.shape, self.a, self.b,
        )  # fmt: skip


# ---------------------------------------------------------------- shared arithmetic
def _pad(flat: np.ndarray) -> np.ndarray:
    groups = max(1, -(-flat.size // GROUP))
    out = np.zeros(groups * GROUP, np.float64)
    out[: flat.size] = flat
    return out


def _scales(peaks: np.ndarray, planes: int, headroom: float) -> tuple[np.ndarray, float]:
    """fp16 scales (rounded up, so no code overflows) and the power-of-two `unit` they count."""
    wanted = peaks * headroom / 2.0**planes
    top = float(wanted.max()) if wanted.size else 0.0
    unit = 2.0 ** (math.ceil(math.log2(top / SCALE_TOP))) if top > 0 else 1.0
    scaled = wanted / unit
    scales = scaled.astype(np.float16)
    low = scales.astype(np.float64) < scaled
    scales[low] = np.nextafter(scales[low], np.float16(np.inf))
    return scales, unit


def _plane_streams(codes: np.ndarray, negative: np.ndarray, planes: int, plane: int) -> list:
    """Significance bits, signs of the weights becoming non-zero, refinement bits."""
    shift = planes - plane - 1
    bit = ((codes >> np.uint32(shift)) & np.uint32(1)).astype(bool)
    known = (codes >> np.uint32(shift + 1)) > 0
    fresh_bits = bit[~known]
    newly = ~known & bit
    return [
        np.packbits(fresh_bits).tobytes(),
        np.packbits(negative[newly]).tobytes(),
        np.packbits(bit[known]).tobytes(),
    ]


def _bit_index(known: np.ndarray, count_known: int) -> np.ndarray:
    """Where each value's bit of a plane lies in the plane's significance bits followed by its
    refinement bits: a value still 0 at `i` is fresh value number `i - before` (`before`: the
    known values up to `i`, inclusive), a known one is known value `before - 1`, after every
    fresh bit. Selected with bit masks: boolean indexing and `np.where` branch on the random
    mask, and run 3 to 4 times slower."""
    itype = np.int32 if known.size < 2**31 else np.int64
    before = np.cumsum(known, dtype=itype)
    fresh_at = np.arange(known.size, dtype=itype)
    fresh_at -= before
    known_at = before
    known_at += itype(known.size - count_known - 1)
    mask = known.astype(itype)
    np.negative(mask, out=mask)
    known_at ^= fresh_at
    known_at &= mask
    known_at ^= fresh_at
    return known_at


def _approximate(
    known: np.ndarray, negative: np.ndarray, shift: int, scales: np.ndarray,
    params: dict[str, Any], shape: tuple[int, ...], a: np.ndarray | None, b: np.ndarray | None,
) -> np.ndarray:  # fmt: skip
    """Dequantize codes that lack their last `shift` bits, then undo the stages: float64 in a
    fixed order of operations, so the encoder and every decoder get the same bits."""
    # `(c + 0.5) * scale * step`, negated where negative, as the same IEEE operations (files
    # encoded before decode to the same bits), in place, with the group's scale broadcast;
    # negation is a product with -1.0 (exact, signed zeros included): a masked negative
    # branches on the mask and runs 15 times slower.
    magnitude = known.reshape(-1, GROUP).astype(np.float64)
    magnitude += 0.5
    magnitude *= known.reshape(-1, GROUP) > 0
    magnitude *= scales.astype(np.float64)[:, None]
    magnitude *= 2.0**shift * float(params["unit"])
    sign = negative.reshape(-1, GROUP).astype(np.float64)
    sign *= -2.0
    sign += 1.0
    magnitude *= sign
    values = magnitude.ravel()
    if params["rotation"]:
        values = stages.hadamard(values.reshape(-1, GROUP)).ravel()
    size = math.prod(shape)
    values = values[:size]
    if a is not None and b is not None:
        values = values + stages.outer_sum(a, b).ravel()
    return values.reshape(shape)
