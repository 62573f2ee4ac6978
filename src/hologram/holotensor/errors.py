"""Errors of the HoloTensor codec, all `HologramError`s."""

from __future__ import annotations

from hologram.errors import HologramError


class HoloTensorError(HologramError):
    """A HoloTensor file, header or fragment is malformed, corrupt, truncated, of an unsupported
    version, or a tensor cannot be encoded or reconstructed. The message names the file, the
    tensor, the fragment and the byte offset where they are known."""


class FragmentUnavailableError(HoloTensorError):
    """Too few fragments arrived (or survived their checksums) to reconstruct a tensor."""
