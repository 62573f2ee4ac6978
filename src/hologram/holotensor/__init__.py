"""HoloTensor: progressive, fault-tolerant tensor compression and progressive weight loading.

A tensor is encoded into ordered fragments: any leading run of them reconstructs an
approximation whose quality was measured at encode time, and all of them reconstruct it
exactly (for the lossless encodings). Fragments are checksummed, may come from several
mirrors, and can be applied to a running model as they arrive.

    from hologram.holotensor import HoloTensorEncoder, HoloTensorDecoder
    encoded = HoloTensorEncoder("bitplane").with_fragments(9).encode(weights)
    decoder = HoloTensorDecoder(encoded.header)
    for fragment in encoded.fragments[:6]:
        decoder.add_fragment(fragment)
    approx, quality = decoder.reconstruct(), decoder.quality()

The byte format is specified in `SPEC.md` beside this file.
"""

from __future__ import annotations

from hologram.holotensor.bitplane import BitPlane
from hologram.holotensor.decoder import FragmentProblem, HoloTensorDecoder
from hologram.holotensor.encoder import HoloTensorEncoder
from hologram.holotensor.encoding import ENCODINGS, Encoding, encoding_named
from hologram.holotensor.errors import FragmentUnavailableError, HoloTensorError
from hologram.holotensor.files import (
    DecodeResult,
    HoloTensorFile,
    decode_from_file,
    decode_from_file_progressive,
    encode_tensors,
    encode_to_file,
    open_holotensor,
    read_holotensor,
    write_holotensor,
)
from hologram.holotensor.header import EncodedTensor, Fragment, HoloTensorHeader
from hologram.holotensor.hot_reload import HotReloadController
from hologram.holotensor.loader import DistributedLoader, LoadResult
from hologram.holotensor.low_rank import LowRankDistributed
from hologram.holotensor.quality import QualityCurve, relative_error
from hologram.holotensor.random_projection import RandomProjection
from hologram.holotensor.raw import Raw
from hologram.holotensor.sources import FragmentSource, FsspecSource, LocalFileSource, MemorySource
from hologram.holotensor.spectral import Spectral
from hologram.holotensor.targets import LayerQualityTarget, plan_fragments

__all__ = [
    "ENCODINGS", "BitPlane", "DecodeResult", "DistributedLoader", "EncodedTensor", "Encoding",
    "Fragment", "FragmentProblem", "FragmentSource", "FragmentUnavailableError",
    "FsspecSource", "HoloTensorDecoder", "HoloTensorEncoder", "HoloTensorError",
    "HoloTensorFile", "HoloTensorHeader", "HotReloadController", "LayerQualityTarget",
    "LoadResult", "LocalFileSource", "LowRankDistributed", "MemorySource", "QualityCurve",
    "RandomProjection", "Raw", "Spectral", "decode_from_file", "decode_from_file_progressive",
    "encode_tensors", "encode_to_file", "encoding_named", "open_holotensor", "plan_fragments",
    "read_holotensor", "relative_error", "write_holotensor",
]  # fmt: skip
