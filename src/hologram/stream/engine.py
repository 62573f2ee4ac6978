"""The streaming loop: a reader thread fills one slot of the pool while the chunk in the other
slot is computed (double-buffering), so that reading and computing overlap.

The working pool is one backend allocation of the configured size, cut into two slots. A chunk
is read straight into its slot on host backends; on device backends it is read into one of two
host staging areas and copied in. When a pipeline changes the dtype, each slot is split in two
regions, and the chunk moves between them at each change. When the output is kept (no sink),
chunks are read straight into the result's `UniversalMemoryPool` instead, and a dtype change
writes its last result there.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.backends.base import ALIGNMENT
from hologram.stream.errors import SourceError, StreamError
from hologram.stream.gauge import Gauge, Schedule
from hologram.stream.ops import ChunkCall, ElementwiseOp, StreamOp, run_chain
from hologram.stream.storage import (
    CpuShared,
    DevicePool,
    EmbeddedBlock,
    MemoryStorage,
    UniversalMemoryPool,
)

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor
    from hologram.stream.chunker import Stream

DEPTH = 2
"""Chunks in flight: the one being computed and the one being read."""


@dataclass
class Group:
    """One launch step of a plan: a fused run of elementwise ops, or one other op."""

    ops: list[StreamOp]
    in_dtype: np.dtype
    out_dtype: np.dtype

    @property
    def in_place(self) -> bool:
        """True when the group writes its result over its input."""
        return self.in_dtype == self.out_dtype

    def apply(self, call: ChunkCall) -> None:
        """Run the group on one chunk."""
        if isinstance(self.ops[0], ElementwiseOp):
            run_chain([s for op in self.ops for s in op.steps()], call)  # type: ignore[attr-defined]
        else:
            self.ops[0].apply(call)


def plan_groups(ops: list[StreamOp], dtype: np.dtype) -> list[Group]:
    """The groups of `ops` for input `dtype`, checking each op's dtypes."""
    groups: list[Group] = []
    for op in ops:
        out = op.out_dtype(dtype)
        fusable = isinstance(op, ElementwiseOp)
        if fusable and groups and isinstance(groups[-1].ops[0], ElementwiseOp):
            groups[-1].ops.append(op)
        else:
            groups.append(Group([op], dtype, out))
        dtype = out
    return groups


def _align(n: int) -> int:
    return n // ALIGNMENT * ALIGNMENT


class Engine:
    """Runs `groups` over every chunk of `stream`, yielding the blocks in order."""

    def __init__(
        self,
        stream: Stream,
        executor: Executor,
        groups: list[Group],
        levels: int,
        pool_bytes: int,
        keep: UniversalMemoryPool | None = None,
    ) -> None:
        self.stream = stream
        self.executor = executor
        self.groups = groups
        self.keep = keep
        self.host = executor.backend.is_host
        self.in_dtype = stream.dtype
        self.out_dtype = groups[-1].out_dtype if groups else stream.dtype
        self.scratch = any(not g.in_place for g in groups)
        self.slot_bytes = _align(pool_bytes // DEPTH)
        if self.scratch:
            widest = max([self.in_dtype.itemsize] + [g.out_dtype.itemsize for g in groups])
            self.region_bytes = _align(self.slot_bytes // 2)
            capacity = self.region_bytes // widest * self.in_dtype.itemsize
        else:
            self.region_bytes = self.slot_bytes
            capacity = self.slot_bytes // self.in_dtype.itemsize * self.in_dtype.itemsize
        self.schedule = Schedule.plan(stream.period, levels, capacity)
        self.bytes_read = 0
        self.bytes_processed = 0

    # ------------------------------------------------------------ memory
    def _views_only(self) -> bool:
        """True when blocks can be views of the source itself: no ops, host memory."""
        return not self.groups and self.host and self.stream.source.view(0, 0) is not None

    def _slot_storage(self, slot: int, region: int, nbytes: int) -> MemoryStorage:
        offset = slot * self.slot_bytes + region * self.region_bytes
        if self.host:
            return CpuShared(self._work[offset : offset + nbytes])
        return DevicePool(self.executor, self._work, offset, nbytes)

    # ------------------------------------------------------------ the loop
    def blocks(self, progress: Callable[[int], None] | None = None) -> Iterator[EmbeddedBlock]:
        """Each chunk's block, computed; a block in a pool slot is valid until the next one."""
        self.stream.claim()
        try:
            if self._views_only():
                yield from self._source_views(progress)
                return
            yield from self._double_buffered(progress)
        finally:
            self.stream.source.close()

    def _source_views(self, progress: Callable[[int], None] | None) -> Iterator[EmbeddedBlock]:
        source = self.stream.source
        total = source.nbytes or 0
        for gauge in self.schedule.gauges(total):
            data = source.view(gauge.offset, gauge.nbytes)
            assert data is not None
            self.bytes_read = gauge.end
            yield EmbeddedBlock(CpuShared(data), gauge, self.in_dtype)
            self.bytes_processed = gauge.end
            if progress is not None:
                progress(gauge.end)

    def _double_buffered(self, progress: Callable[[int], None] | None) -> Iterator[EmbeddedBlock]:
        backend = self.executor.backend
        direct = self.keep is not None and not self.scratch
        self._work = None if direct else backend.allocate(DEPTH * self.slot_bytes)
        staging = None
        if not self.host:
            staging = [np.empty(self.schedule.max_chunk_bytes, np.uint8) for _ in range(DEPTH)]
        free = threading.Semaphore(DEPTH)
        ready: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        stop = threading.Event()

        def destination(index: int, size: int) -> tuple[np.ndarray, MemoryStorage]:
            slot = index % DEPTH
            if direct:
                assert self.keep is not None
                storage = self.keep.reserve(size)
            else:
                storage = self._slot_storage(slot, 0, size)
            if staging is not None:
                return staging[slot][:size], storage
            host = storage.as_slice()
            assert host is not None
            return host, storage

        def reader() -> None:
            offset = 0
            index = 0
            try:
                while True:
                    free.acquire()
                    if stop.is_set():
                        return
                    size = self.schedule.chunk_bytes(index)
                    host, storage = destination(index, size)
                    got = self.stream.source.readinto(host)
                    if got % self.stream.period:
                        raise StreamError(
                            f"{self.stream.source.describe()} ends with "
                            f"{got % self.stream.period} bytes after byte "
                            f"{offset + got - got % self.stream.period}: not a whole "
                            f"{self.stream.period}-byte period"
                        )
                    if got:
                        gauge = self.schedule.gauge(index, offset, nbytes=got)
                        ready.put(("chunk", gauge, (host[:got], _trim(storage, got))))
                    offset += got
                    index += 1
                    if got < size:
                        ready.put(("end", offset, None))
                        return
            except BaseException as exc:  # handed to the consumer, which raises it
                ready.put(("error", exc, offset))

        thread = threading.Thread(target=reader, name="hologram-stream-reader", daemon=True)
        thread.start()
        try:
            while True:
                kind, value, extra = ready.get()
                if kind == "end":
                    self.bytes_read = value
                    return
                if kind == "error":
                    self.bytes_read = extra
                    raise self._source_failure(value, extra)
                gauge: Gauge = value
                host, storage = extra
                self.bytes_read = gauge.end
                if not self.host:
                    backend.copy_in(storage.handle, host, storage.offset)  # type: ignore[attr-defined]
                block = self._compute(gauge, storage)
                self.executor.synchronize()
                yield block
                self.bytes_processed = gauge.end
                if progress is not None:
                    progress(gauge.end)
                free.release()
        finally:
            stop.set()
            free.release()
            thread.join()
            if self._work is not None:
                backend.free(self._work)

    def _source_failure(self, exc: BaseException, read: int) -> BaseException:
        done = self.bytes_processed
        if isinstance(exc, StreamError) and not isinstance(exc, SourceError):
            return SourceError(f"{exc} ({done} bytes processed)", done, read)
        if not isinstance(exc, Exception):
            return exc  # KeyboardInterrupt and the like pass through
        failure = SourceError(
            f"{self.stream.source.describe()} failed after {done} bytes were processed "
            f"({read} bytes read): {type(exc).__name__}: {exc}",
            done,
            read,
        )
        failure.__cause__ = exc
        return failure

    def _compute(self, gauge: Gauge, storage: MemoryStorage) -> EmbeddedBlock:
        dtype = self.in_dtype
        count = gauge.nbytes // dtype.itemsize
        region = 0
        last_change = max((i for i, g in enumerate(self.groups) if not g.in_place), default=-1)
        for i, group in enumerate(self.groups):
            x = storage.buffer(self.executor, dtype)
            if group.in_place:
                out = x
            else:
                nbytes = count * group.out_dtype.itemsize
                if self.keep is not None and i == last_change:
                    storage = self.keep.reserve(nbytes)
                else:
                    region = 1 - region
                    storage = self._slot_storage(gauge.index % DEPTH, region, nbytes)
                out = storage.buffer(self.executor, group.out_dtype)
            group.apply(ChunkCall(x, out, self.executor, gauge))
            dtype = group.out_dtype
        return EmbeddedBlock(storage, gauge, dtype)


def _trim(storage: MemoryStorage, nbytes: int) -> MemoryStorage:
    if storage.nbytes == nbytes:
        return storage
    if isinstance(storage, CpuShared):
        return CpuShared(storage.data[:nbytes])
    assert isinstance(storage, DevicePool)
    return DevicePool(storage.executor, storage.handle, storage.offset, nbytes)
