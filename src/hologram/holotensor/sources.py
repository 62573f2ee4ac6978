"""`FragmentSource`s: where a HoloTensor file's bytes come from. A source reads byte ranges;
the loader reads the header and index once, then each fragment's range from any mirror.

    LocalFileSource("model.htns")
    FsspecSource("https://mirror.example/model.htns")   # any fsspec URL (s3://, gs://, ...)
    MemorySource(data)
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from hologram.holotensor.errors import HoloTensorError


class FragmentSource(ABC):
    """Random access to the bytes of one HoloTensor file."""

    name: str = "source"

    @abstractmethod
    def size(self) -> int:
        """Length of the file in bytes."""

    @abstractmethod
    def read(self, offset: int, length: int) -> bytes:
        """Bytes `offset .. offset + length` (fewer at the end of the file)."""

    def close(self) -> None:
        """Release what the source holds open."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class LocalFileSource(FragmentSource):
    """A file on a local disk, read with positioned reads (safe from many threads)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.name = str(path)
        try:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except OSError as exc:
            raise HoloTensorError(f"{path}: cannot open ({exc.strerror})") from None

    def size(self) -> int:
        """Length of the file in bytes."""
        return os.fstat(self._fd).st_size

    def read(self, offset: int, length: int) -> bytes:
        """Bytes of the file, by a positioned read."""
        chunks, done = [], 0
        while done < length:
            chunk = os.pread(self._fd, length - done, offset + done)
            if not chunk:
                break
            chunks.append(chunk)
            done += len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


class MemorySource(FragmentSource):
    """A file held in memory (bytes, bytearray or any buffer)."""

    def __init__(self, data: Any, name: str = "memory") -> None:
        self._data = memoryview(data).cast("B")
        self.name = name

    def size(self) -> int:
        """Length of the buffer."""
        return len(self._data)

    def read(self, offset: int, length: int) -> bytes:
        """A copy of the range."""
        return bytes(self._data[offset : offset + length])


class FsspecSource(FragmentSource):
    """Any URL fsspec opens (`http(s)://`, `s3://`, `file://`, ...), read by ranges."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        try:
            import fsspec
        except ImportError:
            raise HoloTensorError(
                f"{url}: URL sources need fsspec: pip install 'hologram[holotensor]'"
            ) from None
        self.name = url
        try:
            self._fs, self._path = fsspec.core.url_to_fs(url, **storage_options)
            self._size = int(self._fs.size(self._path))
        except (OSError, ValueError) as exc:
            raise HoloTensorError(f"{url}: cannot open ({exc})") from None

    def size(self) -> int:
        """Length of the remote file."""
        return self._size

    def read(self, offset: int, length: int) -> bytes:
        """A range of the remote file (one request)."""
        if length <= 0 or offset >= self._size:
            return b""
        end = min(offset + length, self._size)
        try:
            return bytes(self._fs.cat_file(self._path, start=offset, end=end))
        except (OSError, ValueError) as exc:
            raise HoloTensorError(
                f"{self.name}: read of {length} bytes at {offset} ({exc})"
            ) from None


def as_source(where: Any) -> FragmentSource:
    """A source for `where`: a source as is, bytes in memory, a URL, or a local path."""
    if isinstance(where, FragmentSource):
        return where
    if isinstance(where, (bytes, bytearray, memoryview)):
        return MemorySource(where)
    text = os.fspath(where)
    if "://" in str(text):
        return FsspecSource(str(text))
    return LocalFileSource(text)
