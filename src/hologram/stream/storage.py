"""Where streamed chunks live: `MemoryStorage`, `EmbeddedBlock`, `UniversalMemoryPool`,
`EmbeddedContext`.

A block's storage is either *CPU-shared*, a zero-copy NumPy view into host memory (`as_slice()`
is that view), or a *device-pool* range of a device allocation, which stays on the device
(`as_slice()` is None; `to_numpy()` copies it out). Which one a block gets follows the backend:
host backends (reference, cpu) give CPU-shared blocks, every other backend device-pool ones.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.backends.base import ALIGNMENT
from hologram.stream.gauge import Gauge

if TYPE_CHECKING:
    from hologram.memory.buffer import Buffer
    from hologram.runtime.executor import Executor
    from hologram.stream.heads import Modality

U8 = np.dtype(np.uint8)


class MemoryStorage(ABC):
    """A range of bytes that a block's data lives in."""

    nbytes: int

    @abstractmethod
    def as_slice(self) -> np.ndarray | None:
        """The bytes as a zero-copy uint8 view, or None when they live on a device."""

    @abstractmethod
    def buffer(self, executor: Executor, dtype: np.dtype) -> Buffer:
        """A hologram Buffer over the bytes (no copy), for launches on `executor`."""

    @abstractmethod
    def to_numpy(self, dtype: np.dtype) -> np.ndarray:
        """The bytes as a flat array of `dtype`: a view when CPU-shared, else a copy."""


class CpuShared(MemoryStorage):
    """Host memory, shared without copies: a view into the pool (or into the source itself)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.nbytes = int(data.nbytes)

    def as_slice(self) -> np.ndarray:
        return self.data

    def buffer(self, executor: Executor, dtype: np.dtype) -> Buffer:
        return executor.from_numpy(self.data.view(dtype))

    def to_numpy(self, dtype: np.dtype) -> np.ndarray:
        return self.data.view(dtype)

    def __repr__(self) -> str:
        return f"<CpuShared {self.nbytes} bytes>"


class DevicePool(MemoryStorage):
    """`nbytes` at `offset` of a device allocation `handle`; the data stays on the device."""

    def __init__(self, executor: Executor, handle: Any, offset: int, nbytes: int) -> None:
        self.executor = executor
        self.handle = handle
        self.offset = offset
        self.nbytes = nbytes

    def as_slice(self) -> None:
        return None

    def buffer(self, executor: Executor, dtype: np.dtype) -> Buffer:
        from hologram.memory.buffer import Buffer
        from hologram.memory.classes import Allocation

        count = self.nbytes // dtype.itemsize
        allocation = Allocation(self.handle, self.offset, self.nbytes)
        return Buffer(executor, allocation, count, dtype)

    def to_numpy(self, dtype: np.dtype) -> np.ndarray:
        raw = self.executor.backend.copy_out(self.handle, self.nbytes, self.offset)
        return raw.view(dtype)

    def __repr__(self) -> str:
        return f"<DevicePool {self.nbytes} bytes at {self.offset} on {self.executor.backend_name}>"


@dataclass(frozen=True)
class EmbeddedBlock:
    """One chunk of a stream after its ops: its storage, its gauge and its dtype."""

    storage: MemoryStorage
    gauge: Gauge
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        """The block's length in bytes."""
        return self.storage.nbytes

    @property
    def count(self) -> int:
        """How many elements (records) of `dtype` it holds."""
        return self.storage.nbytes // self.dtype.itemsize

    def as_slice(self) -> np.ndarray | None:
        """The block's bytes as a zero-copy view, or None on a device."""
        return self.storage.as_slice()

    @property
    def data(self) -> np.ndarray | None:
        """The elements as a zero-copy typed view, or None on a device."""
        raw = self.storage.as_slice()
        return None if raw is None else raw.view(self.dtype)

    def to_numpy(self) -> np.ndarray:
        """The elements: a zero-copy view for CPU-shared blocks, a copy from a device."""
        return self.storage.to_numpy(self.dtype)

    def buffer(self, executor: Executor) -> Buffer:
        """The elements as a Buffer on `executor` (no copy)."""
        return self.storage.buffer(executor, self.dtype)


class UniversalMemoryPool:
    """The blocks of a stream's result, and the arenas they are views into.

    Arenas are backend allocations, handed out front to back (64-byte aligned); a new arena is
    made when the last is full, of at least the stream's remaining length when that is known.
    """

    def __init__(self, executor: Executor, expected_bytes: int | None = None) -> None:
        self.executor = executor
        self.blocks: list[EmbeddedBlock] = []
        self._arenas: list[tuple[Any, int]] = []  # (handle, size)
        self._used = 0
        self._next_size = max(int(expected_bytes or 0), 1 << 20)

    def reserve(self, nbytes: int) -> MemoryStorage:
        """Storage for `nbytes` (uninitialised), in the current arena or a new one."""
        backend = self.executor.backend
        start = -(-self._used // ALIGNMENT) * ALIGNMENT
        if not self._arenas or start + nbytes > self._arenas[-1][1]:
            size = max(nbytes, self._next_size)
            self._arenas.append((backend.allocate(size), size))
            self._next_size = size * 2
            start = 0
        handle = self._arenas[-1][0]
        self._used = start + nbytes
        if backend.is_host:
            return CpuShared(handle[start : start + nbytes])
        return DevicePool(self.executor, handle, start, nbytes)

    def add(self, block: EmbeddedBlock) -> None:
        """Append a block (in stream order)."""
        self.blocks.append(block)

    @property
    def total_bytes(self) -> int:
        """The bytes of all blocks."""
        return sum(block.nbytes for block in self.blocks)

    @property
    def arena_bytes(self) -> int:
        """The bytes of arenas allocated (the pool's footprint)."""
        return sum(size for _, size in self._arenas)

    def __len__(self) -> int:
        return len(self.blocks)

    def __iter__(self) -> Iterator[EmbeddedBlock]:
        return iter(self.blocks)

    def __getitem__(self, index: int) -> EmbeddedBlock:
        return self.blocks[index]

    def to_numpy(self) -> np.ndarray:
        """Every block's elements joined into one new array (a copy)."""
        if not self.blocks:
            return np.empty(0, U8)
        return np.concatenate([block.to_numpy() for block in self.blocks])

    def __repr__(self) -> str:
        return f"<UniversalMemoryPool {len(self.blocks)} blocks, {self.total_bytes} bytes>"


@dataclass
class EmbeddedContext:
    """What `ComputePipeline.execute` returns.

    `pool`: the blocks (empty when a sink took the output). `gauges`: every chunk's gauge, in
    order. `total_bytes`: the bytes of output. `bytes_read`: the bytes read from the source.
    `modalities`: each domain head's result, by the head's name. `sink`: the sink, if any.
    """

    pool: UniversalMemoryPool
    dtype: np.dtype
    period: int
    period_from: str
    gauges: list[Gauge] = field(default_factory=list)
    total_bytes: int = 0
    bytes_read: int = 0
    modalities: dict[str, Modality] = field(default_factory=dict)
    sink: Any = None

    @property
    def blocks(self) -> list[EmbeddedBlock]:
        """The blocks of the pool."""
        return self.pool.blocks

    def to_numpy(self) -> np.ndarray:
        """The whole output as one array (a copy); empty when a sink took it."""
        return self.pool.to_numpy().view(self.dtype)
