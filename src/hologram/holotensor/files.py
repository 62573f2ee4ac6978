"""Reading and writing HoloTensor files: one tensor or a whole model's weights.

    encode_to_file(weights, "w.htns")                          # an array, or a dict of them
    result = decode_from_file("w.htns")                         # DecodeResult: array, quality
    result = decode_from_file_progressive("w.htns", 0.99)       # reads only what 0.99 needs

Reading is fault tolerant: a fragment whose checksum fails is skipped (its redundant copy is
tried, if the file has one) and reported in `DecodeResult.problems`; the result says the
quality it reached.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hologram.holotensor.decoder import FragmentProblem, HoloTensorDecoder
from hologram.holotensor.encoder import HoloTensorEncoder
from hologram.holotensor.encoding import FLOAT_DTYPES
from hologram.holotensor.errors import HoloTensorError
from hologram.holotensor.format import Layout, layout_chunks, parse_layout, stored_fragment
from hologram.holotensor.header import EncodedTensor, Fragment, HoloTensorHeader
from hologram.holotensor.sources import FragmentSource, as_source

MIN_ELEMENTS = 256
"""Smaller tensors (biases, norms) are stored raw: a few hundred bytes gain nothing."""


@dataclass
class DecodeResult:
    """A reconstructed tensor, the quality it reached, and what went wrong on the way."""

    name: str
    array: np.ndarray | None
    quality: float
    fragments: list[int]
    bytes_read: int = 0
    problems: list[FragmentProblem] = field(default_factory=list)
    exact: bool = False


class HoloTensorFile:
    """An open HoloTensor file (local path, URL, bytes or a `FragmentSource`).

    The header, manifest and index are checked on opening; fragments are read and checked one
    by one, when asked for.
    """

    def __init__(self, where: Any, strict: bool = False) -> None:
        self.source: FragmentSource = as_source(where)
        self.where = self.source.name
        self.bytes_read = 0
        self._lock = threading.Lock()
        self.layout: Layout = parse_layout(self._read, self.source.size(), self.where)
        if strict and self.layout.truncated:
            raise HoloTensorError(self.truncation())
        self.headers: dict[str, HoloTensorHeader] = {h.name: h for h in self.layout.headers}
        self._number = {h.name: i for i, h in enumerate(self.layout.headers)}

    def __enter__(self) -> HoloTensorFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.source.close()

    def _read(self, offset: int, length: int) -> bytes:
        data = self.source.read(offset, length)
        with self._lock:
            self.bytes_read += len(data)
        return data

    def truncation(self) -> str:
        """The message saying how much of the file is missing."""
        lay = self.layout
        return f"{self.where}: truncated: {lay.actual_length} of {lay.file_length} bytes"

    @property
    def names(self) -> list[str]:
        """The tensors' names, in file order."""
        return list(self.headers)

    def header(self, name: str | None = None) -> HoloTensorHeader:
        """The header of tensor `name` (may be left out when the file holds one tensor)."""
        if name is None:
            if len(self.headers) != 1:
                raise HoloTensorError(f"{self.where}: holds {len(self.headers)} tensors; name one")
            return next(iter(self.headers.values()))
        if name not in self.headers:
            raise HoloTensorError(f"{self.where}: no tensor {name!r}")
        return self.headers[name]

    def fragment(self, name: str, index: int, problems: list[FragmentProblem]) -> Fragment | None:
        """Fragment `index` of tensor `name`, from its first stored copy that checks out;
        None (with the reasons appended to `problems`) if none does."""
        copies = self.layout.copies(self._number[name], index)
        if not copies:
            problems.append(FragmentProblem(name, index, "missing from the file", self.where))
        for entry in copies:
            found = stored_fragment(entry, self._read(entry.offset, entry.length))
            if isinstance(found, Fragment):
                return found
            problems.append(FragmentProblem(name, index, found, self.where))
        return None

    def decoder(
        self, name: str | None = None, target_quality: float | None = None,
        fragments: int | None = None,
    ) -> tuple[HoloTensorDecoder, list[FragmentProblem]]:  # fmt: skip
        """A decoder fed fragment by fragment, in order, until `target_quality` is reached or
        `fragments` have been read (all of them by default)."""
        header = self.header(name)
        decoder = HoloTensorDecoder(header)
        problems: list[FragmentProblem] = []
        limit = header.fragments if fragments is None else min(fragments, header.fragments)
        for index in range(limit):
            if (
                target_quality is not None and decoder.can_reconstruct()
                and decoder.quality() >= target_quality
            ):  # fmt: skip
                break
            found = self.fragment(header.name, index, problems)
            if found is not None and not decoder.add_fragment(found, self.where):
                problems.extend(decoder.problems[-1:])
        return decoder, problems

    def decode(
        self, name: str | None = None, target_quality: float | None = None,
        fragments: int | None = None,
    ) -> DecodeResult:  # fmt: skip
        """Reconstruct tensor `name` from as few fragments as `target_quality` needs (all, by
        default), skipping and reporting corrupt ones."""
        before = self.bytes_read
        decoder, problems = self.decoder(name, target_quality, fragments)
        array = decoder.reconstruct() if decoder.can_reconstruct() else None
        return DecodeResult(
            decoder.header.name, array, decoder.quality() if array is not None else 0.0,
            decoder.used(), self.bytes_read - before, problems,
            exact=decoder.complete() and decoder.header.lossless,
        )  # fmt: skip

    def encoded(self, name: str | None = None, strict: bool = True) -> EncodedTensor:
        """Tensor `name` with every fragment that checks out (`strict`: all, or raise)."""
        header = self.header(name)
        problems: list[FragmentProblem] = []
        found = [self.fragment(header.name, i, problems) for i in range(header.fragments)]
        if strict and problems:
            raise HoloTensorError("; ".join(str(p) for p in problems))
        return EncodedTensor(header, tuple(f for f in found if f is not None))

    def verify(self) -> list[str]:
        """Read and check every stored copy of every fragment; what is wrong (empty if
        nothing)."""
        issues = [self.truncation()] if self.layout.truncated else []
        for header in self.headers.values():
            problems: list[FragmentProblem] = []
            number = self._number[header.name]
            for index in range(header.fragments):
                copies = self.layout.copies(number, index)
                if not copies:
                    problems.append(FragmentProblem(header.name, index, "missing from the file"))
                for entry in copies:
                    found = stored_fragment(entry, self._read(entry.offset, entry.length))
                    reason = found if isinstance(found, str) else header.check(found)
                    if reason:
                        problems.append(FragmentProblem(header.name, index, reason))
            issues += [str(p) for p in problems]
        return issues + self._padding_issues()

    def _padding_issues(self) -> list[str]:
        """Padding before each payload must be zero bytes: a flipped bit there is reported too."""
        issues, end = [], self.layout.index_end
        for entry in self.layout.entries:
            gap = self._read(end, entry.offset - end)
            if gap.strip(b"\0"):
                issues.append(f"{self.where}: non-zero padding at offsets {end}..{entry.offset}")
            end = entry.offset + entry.length
        return issues


# ---------------------------------------------------------------- the functions
def open_holotensor(where: Any, strict: bool = False) -> HoloTensorFile:
    """Open a HoloTensor file (path, URL, bytes or source); checks header, manifest, index."""
    return HoloTensorFile(where, strict)


def write_holotensor(
    path: str | os.PathLike | None,
    tensors: EncodedTensor | Mapping[str, EncodedTensor],
    compress: bool = True,
    redundancy: int = 1,
    metadata: dict[str, Any] | None = None,
) -> bytes | None:
    """Write encoded tensors to `path` (or return the file's bytes when `path` is None).

    `compress` zstd-codes fragments that shrink; `redundancy` stores that many copies of each
    essential fragment."""
    if isinstance(tensors, EncodedTensor):
        tensors = {tensors.header.name: tensors}
    chunks = layout_chunks(tensors, compress, redundancy, metadata)
    if path is None:
        return b"".join(chunks)
    target = os.fspath(path)
    temporary = f"{target}.partial"
    try:
        with open(temporary, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(temporary, target)
    except OSError as exc:
        raise HoloTensorError(f"{target}: cannot write ({exc.strerror})") from None
    return None


def read_holotensor(where: Any, name: str | None = None, strict: bool = True) -> EncodedTensor:
    """Tensor `name` of a file, header and fragments (raising on any corrupt fragment when
    `strict`, else leaving it out)."""
    with HoloTensorFile(where, strict) as file:
        return file.encoded(name, strict)


def encode_tensors(
    tensors: Mapping[str, Any],
    encoding: str = "bitplane",
    fragments: int | None = None,
    seed: int = 0,
    progress: Any = None,
    **options: Any,
) -> dict[str, EncodedTensor]:
    """Encode a model's tensors. Floating tensors of at least `MIN_ELEMENTS` take `encoding`;
    the others are stored raw. `progress(name)` is called after each tensor."""
    main = HoloTensorEncoder(encoding, **options)
    if fragments is not None:
        main = main.with_fragments(fragments)
    main = main.with_seed(seed)
    raw = HoloTensorEncoder("raw")
    out = {}
    for name, tensor in tensors.items():
        array = np.asarray(tensor)
        use = main if array.dtype.name in FLOAT_DTYPES and array.size >= MIN_ELEMENTS else raw
        out[name] = use.encode(array, name=name)
        if progress is not None:
            progress(name)
    return out


def encode_to_file(
    tensor: Any,
    path: str | os.PathLike,
    encoding: str = "bitplane",
    fragments: int | None = None,
    seed: int = 0,
    compress: bool = True,
    redundancy: int = 1,
    **options: Any,
) -> dict[str, HoloTensorHeader]:
    """Encode one array (named `""`) or a mapping of them and write the file; the headers."""
    if isinstance(tensor, Mapping):
        encoded = encode_tensors(tensor, encoding, fragments, seed, **options)
    else:
        encoder = HoloTensorEncoder(encoding, **options).with_seed(seed)
        if fragments is not None:
            encoder = encoder.with_fragments(fragments)
        encoded = {"": encoder.encode(tensor)}
    write_holotensor(path, encoded, compress, redundancy)
    return {name: e.header for name, e in encoded.items()}


def decode_from_file(where: Any, name: str | None = None) -> DecodeResult:
    """Tensor `name` from every fragment of a file (corrupt ones skipped and reported)."""
    with HoloTensorFile(where) as file:
        return file.decode(name)


def decode_from_file_progressive(
    where: Any, target_quality: float, name: str | None = None
) -> DecodeResult:
    """Tensor `name` from the fewest fragments that reach `target_quality`: later fragments
    are not read."""
    with HoloTensorFile(where) as file:
        return file.decode(name, target_quality)
