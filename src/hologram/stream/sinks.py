"""Sinks: where a pipeline's output goes when it is too large to keep.

A sink takes whole chunks only. Each `write` either lands the whole chunk or raises SinkError
with nothing of that chunk kept, and `abort()` (called when the stream fails) says exactly
what the sink holds, so a sink never silently holds part of a chunk:

- `FileSink(path)`: the raw bytes. Written to `path.partial`, renamed to `path` when the stream
  ends; on failure the partial file is cut back to whole chunks and kept, and the error says so.
- `ArraySink(array)`: into a preallocated array (an np.memmap for outputs larger than RAM).
- `ArrowSink(path)`: an Arrow IPC file of one record batch per chunk (needs pyarrow).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from hologram.stream.errors import SinkError
from hologram.stream.storage import EmbeddedBlock


def _host_bytes(block: EmbeddedBlock) -> np.ndarray:
    raw = block.as_slice()
    return raw if raw is not None else block.to_numpy().view(np.uint8)


class Sink(ABC):
    """Takes the blocks of one stream, in order."""

    bytes_committed: int = 0

    def open(self, dtype: np.dtype) -> None:
        """Prepare for a stream of `dtype`."""
        self.dtype = np.dtype(dtype)
        self.bytes_committed = 0

    @abstractmethod
    def write(self, block: EmbeddedBlock) -> None:
        """Keep the whole block, or raise SinkError having kept none of it."""

    def close(self) -> None:
        """The stream ended: make the output final."""

    def abort(self) -> str:
        """The stream failed: settle the output and say what the sink holds."""
        return f"the sink holds the first {self.bytes_committed} bytes of output (whole chunks)"


class FileSink(Sink):
    """Raw output bytes in a file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self._file: Any = None

    def open(self, dtype: np.dtype) -> None:
        super().open(dtype)
        try:
            self._file = open(self.partial, "wb", buffering=0)  # noqa: SIM115
        except OSError as exc:
            raise SinkError(f"cannot write {self.partial}: {exc.strerror}") from None

    def write(self, block: EmbeddedBlock) -> None:
        data = memoryview(_host_bytes(block)).cast("B")
        done = 0
        try:
            while done < len(data):
                done += self._file.write(data[done:])
        except OSError as exc:
            self._file.truncate(self.bytes_committed)
            self._file.seek(self.bytes_committed)
            raise SinkError(
                f"writing {self.partial} failed in chunk {block.gauge.index}: {exc.strerror}; "
                f"it holds the first {self.bytes_committed} bytes (whole chunks)",
                self.bytes_committed,
            ) from None
        self.bytes_committed += done

    def close(self) -> None:
        self._file.close()
        os.replace(self.partial, self.path)

    def abort(self) -> str:
        if self._file is None:
            return "the sink was not opened"
        if not self._file.closed:
            self._file.truncate(self.bytes_committed)
            self._file.close()
        return (
            f"{self.partial} holds the first {self.bytes_committed} bytes of output "
            f"(whole chunks); {self.path} was not written"
        )


class ArraySink(Sink):
    """Output written into `array` (any writable C-contiguous array, e.g. an np.memmap)."""

    def __init__(self, array: np.ndarray) -> None:
        if not (array.flags.c_contiguous and array.flags.writeable):
            raise SinkError("an ArraySink needs a writable C-contiguous array")
        self.array = array
        self._bytes = array.reshape(-1).view(np.uint8)

    def open(self, dtype: np.dtype) -> None:
        super().open(dtype)
        if self.array.dtype != self.dtype:
            raise SinkError(f"the output is {self.dtype}, the sink's array is {self.array.dtype}")

    def write(self, block: EmbeddedBlock) -> None:
        data = _host_bytes(block)
        end = self.bytes_committed + data.nbytes
        if end > self._bytes.size:
            raise SinkError(
                f"chunk {block.gauge.index} ({data.nbytes} bytes) does not fit: the sink's "
                f"array holds {self._bytes.size} bytes and {self.bytes_committed} are written",
                self.bytes_committed,
            )
        self._bytes[self.bytes_committed : end] = data
        self.bytes_committed = end

    @property
    def filled(self) -> np.ndarray:
        """The elements written so far."""
        return self._bytes[: self.bytes_committed].view(self.array.dtype)


class ArrowSink(Sink):
    """An Arrow IPC file: one record batch per chunk, column `values` (one column per field for
    records), each batch tagged with its chunk's gauge."""

    def __init__(self, path: str | os.PathLike[str], column: str = "values") -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.column = column
        self._writer: Any = None

    def open(self, dtype: np.dtype) -> None:
        super().open(dtype)
        try:
            import pyarrow as pa
        except ImportError:
            raise SinkError("ArrowSink needs pyarrow: pip install pyarrow") from None
        self._pa = pa
        names = self.dtype.names or (self.column,)
        fields = [
            pa.field(name, pa.from_numpy_dtype(self.dtype[name] if self.dtype.names else dtype))
            for name in names
        ]
        self._schema = pa.schema(fields)
        try:
            self._writer = pa.ipc.new_file(str(self.partial), self._schema)
        except OSError as exc:
            raise SinkError(f"cannot write {self.partial}: {exc}") from None

    def write(self, block: EmbeddedBlock) -> None:
        pa = self._pa
        values = _host_bytes(block).view(self.dtype)
        if self.dtype.names:
            columns = [pa.array(values[name]) for name in self.dtype.names]
        else:
            columns = [pa.array(values)]
        batch = pa.record_batch(columns, schema=self._schema)
        metadata = {k: str(v) for k, v in block.gauge.as_dict().items()}
        try:
            self._writer.write_batch(batch, custom_metadata=metadata)
        except OSError as exc:
            raise SinkError(
                f"writing {self.partial} failed in chunk {block.gauge.index}: {exc}",
                self.bytes_committed,
            ) from None
        self.bytes_committed += values.nbytes

    def close(self) -> None:
        self._writer.close()
        os.replace(self.partial, self.path)

    def abort(self) -> str:
        if self._writer is not None:
            self._writer.close()
            self.partial.unlink(missing_ok=True)
        return f"{self.path} was not written (an Arrow file is kept only whole)"


class NullSink(Sink):
    """Discards the output: for streams whose domain heads are the result."""

    def write(self, block: EmbeddedBlock) -> None:
        self.bytes_committed += block.nbytes
