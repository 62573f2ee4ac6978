"""Sources: everything `Stream` reads from, behind one small interface.

A source reads its bytes in order into memory the caller gives it (`readinto`), so that a chunk
lands straight in the pool with no copy in between. In-memory sources (bytes, NumPy arrays,
Arrow arrays) also hand out zero-copy views of any byte range (`view`).

    open_source(b"...")                        bytes, bytearray, memoryview
    open_source(np.arange(10.0))               NumPy arrays and np.memmap
    open_source("data.f32")                    paths: read in order, never mapped whole
    open_source("memory://x.bin")              fsspec URLs (s3://, gcs://, file://, ...)
    open_source(pa.array([...]))               Arrow arrays, chunked arrays, batches, tables
    open_source(iter([a, b, c]))               iterables of chunks (bytes or arrays)
"""

from __future__ import annotations

import io
import mmap
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from stat import S_ISREG
from typing import Any, BinaryIO

import numpy as np

from hologram.stream.errors import StreamError

U8 = np.dtype(np.uint8)


class Source(ABC):
    """Bytes read in order. `dtype` is their element (or record) type, `nbytes` their length
    when known."""

    dtype: np.dtype = U8
    nbytes: int | None = None

    def __init__(self) -> None:
        self._pending = bytearray()

    @abstractmethod
    def _read(self, out: memoryview) -> int:
        """Read up to len(out) bytes into `out`; 0 only at the end."""

    def describe(self) -> str:
        """A short description for messages."""
        return type(self).__name__

    def sample(self, nbytes: int) -> bytes:
        """Up to `nbytes` from the start, without consuming them. Call before reading."""
        while len(self._pending) < nbytes:
            piece = bytearray(nbytes - len(self._pending))
            got = self._read(memoryview(piece))
            if got == 0:
                break
            self._pending += piece[:got]
        return bytes(self._pending[:nbytes])

    def readinto(self, out: memoryview | np.ndarray) -> int:
        """Fill `out` (bytes) in order; fewer bytes than its length only at the end."""
        view = memoryview(out).cast("B")
        done = 0
        if self._pending:
            take = min(len(self._pending), len(view))
            view[:take] = self._pending[:take]
            del self._pending[:take]
            done = take
        while done < len(view):
            got = self._read(view[done:])
            if got == 0:
                break
            done += got
        return done

    def view(self, offset: int, nbytes: int) -> np.ndarray | None:
        """A zero-copy uint8 view of bytes `[offset, offset + nbytes)`, for in-memory sources."""
        return None

    def close(self) -> None:
        """Release what the source opened (files, connections)."""


class ArraySource(Source):
    """A NumPy array (or np.memmap, or bytes) read from memory; views share its memory.

    A memory-mapped array gives its pages back to the system as they are read, so that reading
    a mapped file larger than RAM does not grow the process's resident memory.
    """

    def __init__(self, array: np.ndarray) -> None:
        super().__init__()
        self.array = np.ascontiguousarray(array)
        self.dtype = self.array.dtype
        self._bytes = self.array.reshape(-1).view(U8)
        self.nbytes = int(self._bytes.size)
        self._position = 0
        self._mapping = _mapping_of(array)

    def describe(self) -> str:
        return f"array of {self.array.size} {self.dtype}"

    def sample(self, nbytes: int) -> bytes:
        return self._bytes[:nbytes].tobytes()

    def _read(self, out: memoryview) -> int:
        start = self._position
        count = min(len(out), self.nbytes - start)
        np.frombuffer(out, U8, count)[:] = self._bytes[start : start + count]
        self._position += count
        if self._mapping is not None:
            self._mapping.release(self._bytes, start, count)
        return count

    def view(self, offset: int, nbytes: int) -> np.ndarray:
        return self._bytes[offset : offset + nbytes]


class _Mapping:
    """The mmap behind a np.memmap, to drop pages from resident memory once read."""

    def __init__(self, mapped: mmap.mmap, base: int) -> None:
        self.mapped = mapped
        self.base = base

    def release(self, data: np.ndarray, start: int, count: int) -> None:
        page = mmap.PAGESIZE
        begin = data.ctypes.data + start - self.base
        end = begin + count
        first = -(-begin // page) * page
        last = end // page * page
        if last > first:
            try:
                self.mapped.madvise(mmap.MADV_DONTNEED, first, last - first)
            except (OSError, ValueError):
                self.mapped = None  # type: ignore[assignment]


def _mapping_of(array: np.ndarray) -> _Mapping | None:
    mapped = getattr(array, "_mmap", None)
    if not isinstance(mapped, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED"):
        return None
    try:
        base = np.frombuffer(mapped, U8, count=1).ctypes.data
    except (TypeError, ValueError):
        return None
    return _Mapping(mapped, base)


class FileSource(Source):
    """A file, by path or as an open binary file object, read in order (never mapped whole)."""

    def __init__(self, file: str | os.PathLike[str] | BinaryIO, dtype: Any = None) -> None:
        super().__init__()
        self.dtype = np.dtype(dtype) if dtype is not None else U8
        if isinstance(file, (str, os.PathLike)):
            self.name = str(file)
            try:
                self._file: Any = open(file, "rb", buffering=0)  # noqa: SIM115
            except OSError as exc:
                raise StreamError(f"cannot open {self.name}: {exc.strerror}") from None
            self._owned = True
        else:
            self.name = getattr(file, "name", type(file).__name__)
            self._file = file
            self._owned = False
        self.nbytes = _size_of(self._file)

    def describe(self) -> str:
        return f"file {self.name}"

    def _read(self, out: memoryview) -> int:
        readinto = getattr(self._file, "readinto", None)
        if readinto is not None:
            got = readinto(out)
            return int(got or 0)
        data = self._file.read(len(out))
        out[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._owned:
            self._file.close()


def _size_of(file: Any) -> int | None:
    """Bytes left in `file` when it is a regular file or says its size, else None."""
    try:
        stat = os.fstat(file.fileno())
        if S_ISREG(stat.st_mode):
            return int(stat.st_size) - int(file.tell())
        return None
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    size = getattr(file, "size", None)
    if isinstance(size, int):
        return size - int(file.tell())
    return None


class FsspecSource(FileSource):
    """A file named by an fsspec URL (`memory://`, `file://`, `s3://`, ...), read in order."""

    def __init__(self, url: str, dtype: Any = None, **storage_options: Any) -> None:
        try:
            import fsspec
        except ImportError:
            raise StreamError(
                f"reading {url!r} needs fsspec: pip install fsspec (or hologram[stream])"
            ) from None
        try:
            fs, path = fsspec.core.url_to_fs(url, **storage_options)
            size = fs.size(path)
            handle = fs.open(path, "rb")
        except (OSError, ValueError) as exc:
            raise StreamError(f"cannot open {url}: {exc}") from None
        super().__init__(handle, dtype)
        self._owned = True
        self.name = url
        self.nbytes = int(size) if size is not None else None


class IterableSource(Source):
    """An iterable of chunks of any sizes: bytes-like objects or NumPy arrays of one dtype."""

    def __init__(self, pieces: Iterable[Any], dtype: Any = None) -> None:
        super().__init__()
        self._pieces: Iterator[Any] = iter(pieces)
        self._current = np.empty(0, U8)
        self._declared = np.dtype(dtype) if dtype is not None else None
        self.dtype = self._declared or U8
        self._first = True

    def describe(self) -> str:
        return "iterable of chunks"

    def _next_piece(self) -> bool:
        for piece in self._pieces:
            array = _as_array(piece)
            if self._first and self._declared is None and not isinstance(piece, _BYTES):
                self.dtype = array.dtype
            elif not isinstance(piece, _BYTES) and array.dtype != self.dtype:
                raise StreamError(
                    f"iterable source: a chunk of {array.dtype} among chunks of {self.dtype}"
                )
            self._first = False
            self._current = np.ascontiguousarray(array).reshape(-1).view(U8)
            if self._current.size:
                return True
        return False

    def prime(self) -> None:
        """Look at the first chunk, so that `dtype` is known before reading."""
        if self._first and not self._pending and self._next_piece():
            self._pending += self._current.tobytes()
            self._current = np.empty(0, U8)

    def _read(self, out: memoryview) -> int:
        if not self._current.size and not self._next_piece():
            return 0
        count = min(len(out), self._current.size)
        np.frombuffer(out, U8, count)[:] = self._current[:count]
        self._current = self._current[count:]
        return count


_BYTES = (bytes, bytearray, memoryview)


def _as_array(piece: Any) -> np.ndarray:
    if isinstance(piece, _BYTES):
        return np.frombuffer(piece, U8)
    if isinstance(piece, np.ndarray):
        return piece
    if _is_arrow(piece):
        return _arrow_numpy(piece)
    raise StreamError(f"iterable source: a chunk is {type(piece).__name__}, not bytes or an array")


def _is_arrow(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "pyarrow"


def _arrow_numpy(array: Any) -> np.ndarray:
    """A zero-copy NumPy view of an Arrow array of a fixed-width type without nulls."""
    if array.null_count:
        raise StreamError(
            f"an Arrow array of {array.type} has {array.null_count} nulls; "
            "fill them (pyarrow.compute.fill_null) before streaming"
        )
    try:
        return array.to_numpy(zero_copy_only=True)
    except Exception as exc:  # pyarrow raises ArrowInvalid, its own class
        raise StreamError(
            f"an Arrow array of {array.type} cannot be viewed as numbers: {exc}"
        ) from None


class ArrowSource(Source):
    """Arrow data, read straight from Arrow's memory (zero copy; the pool write is the only one).

    An Array, ChunkedArray or a single column streams its values. A RecordBatch or Table of
    several columns streams rows as records: the dtype is a structured dtype with one field
    per column, so a chunk always holds whole rows.
    """

    def __init__(self, data: Any, column: str | None = None) -> None:
        super().__init__()
        kind = type(data).__name__
        if kind in ("RecordBatch", "Table"):
            names = list(data.schema.names)
            if column is not None or len(names) == 1:
                data = data.column(column if column is not None else names[0])
                kind = type(data).__name__
            else:
                self._init_records(data, names)
                return
        if kind == "ChunkedArray":
            segments = [_arrow_numpy(chunk) for chunk in data.chunks]
        else:
            segments = [_arrow_numpy(data)]
        dtype = segments[0].dtype if segments else np.dtype(data.type.to_pandas_dtype())
        self.dtype = dtype
        self._segments = [s.reshape(-1).view(U8) for s in segments]
        self.nbytes = sum(s.size for s in self._segments)
        self._records: list[list[np.ndarray]] | None = None
        self._segment = 0
        self._offset = 0

    def _init_records(self, data: Any, names: list[str]) -> None:
        batches = data.to_batches() if type(data).__name__ == "Table" else [data]
        self._records = [[_arrow_numpy(col) for col in batch.columns] for batch in batches]
        first = self._records[0] if self._records else []
        self.dtype = np.dtype([(name, col.dtype) for name, col in zip(names, first, strict=True)])
        self.nbytes = sum(len(cols[0]) for cols in self._records if cols) * self.dtype.itemsize
        self._segments = []
        self._segment = 0
        self._offset = 0

    def describe(self) -> str:
        return f"Arrow data of {self.dtype}"

    def _read(self, out: memoryview) -> int:
        if self._records is not None:
            return self._read_records(out)
        done = 0
        while done < len(out) and self._segment < len(self._segments):
            segment = self._segments[self._segment]
            count = min(len(out) - done, segment.size - self._offset)
            np.frombuffer(out, U8, count, done)[:] = segment[self._offset : self._offset + count]
            done += count
            self._offset += count
            if self._offset == segment.size:
                self._segment += 1
                self._offset = 0
        return done

    def _read_records(self, out: memoryview) -> int:
        assert self._records is not None
        rows = len(out) // self.dtype.itemsize
        if rows == 0 and len(out):
            raise StreamError(f"a read of {len(out)} bytes cannot hold one {self.dtype} record")
        target = np.frombuffer(out, self.dtype, rows)
        done = 0
        while done < rows and self._segment < len(self._records):
            columns = self._records[self._segment]
            count = min(rows - done, len(columns[0]) - self._offset)
            for name, column in zip(self.dtype.names or (), columns, strict=True):
                target[name][done : done + count] = column[self._offset : self._offset + count]
            done += count
            self._offset += count
            if self._offset == len(columns[0]):
                self._segment += 1
                self._offset = 0
        return done * self.dtype.itemsize

    def view(self, offset: int, nbytes: int) -> np.ndarray | None:
        # Chunks of several Arrow chunks would straddle them: only one segment is viewed.
        if self._records is not None or len(self._segments) != 1:
            return None
        return self._segments[0][offset : offset + nbytes]


def open_source(obj: Any, dtype: Any = None, column: str | None = None) -> Source:
    """The Source reading `obj`; `dtype` types raw bytes (files, bytes, byte iterables)."""
    if isinstance(obj, Source):
        return obj
    if isinstance(obj, _BYTES):
        array = np.frombuffer(obj, U8)
        if dtype is not None:
            dt = np.dtype(dtype)
            if array.size % dt.itemsize:
                raise StreamError(
                    f"{array.size} bytes are not a whole number of {dt} elements of "
                    f"{dt.itemsize} bytes"
                )
            array = array.view(dt)
        return ArraySource(array)
    if isinstance(obj, np.ndarray):
        if dtype is not None and np.dtype(dtype) != obj.dtype:
            raise StreamError(f"dtype={np.dtype(dtype)} given for an array of {obj.dtype}")
        return ArraySource(obj)
    if isinstance(obj, str) and "://" in obj:
        return FsspecSource(obj, dtype)
    if isinstance(obj, (str, os.PathLike)):
        if not Path(obj).is_file():
            raise StreamError(f"no such file: {obj}")
        return FileSource(obj, dtype)
    if _is_arrow(obj):
        return ArrowSource(obj, column)
    if hasattr(obj, "read"):
        return FileSource(obj, dtype)
    if isinstance(obj, Iterable):
        source = IterableSource(obj, dtype)
        return source
    raise StreamError(
        f"cannot stream a {type(obj).__name__}: give bytes, an array, a path or URL, "
        "a binary file, Arrow data or an iterable of chunks"
    )
