"""The errors of streaming: a bad source, a source that fails mid-stream, a sink that fails."""

from __future__ import annotations

from hologram.errors import HologramError


class StreamError(HologramError):
    """A stream cannot be set up or run: an unknown source type, a pool too small for one
    record, an op that does not fit the stream's dtype."""


class SourceError(StreamError):
    """A source failed while being read. `bytes_processed` is how many bytes went all the way
    through the pipeline (and into the sink) before the failure; `bytes_read` how many were read."""

    def __init__(self, message: str, bytes_processed: int = 0, bytes_read: int = 0) -> None:
        self.bytes_processed = bytes_processed
        self.bytes_read = bytes_read
        super().__init__(message)


class SinkError(StreamError):
    """A sink could not take a chunk. `bytes_committed` is how many bytes it holds, always a
    whole number of chunks."""

    def __init__(self, message: str, bytes_committed: int = 0) -> None:
        self.bytes_committed = bytes_committed
        super().__init__(message)
