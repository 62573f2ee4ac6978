"""The 96-class allocator over the boundary pool.

The boundary pool is one backend allocation of `POOL_BYTES` (96 classes x 12,288 bytes), made
on first use. A small buffer takes `ceil(nbytes / CLASS_BYTES)` consecutive classes, found
first-fit in a 96-bit bitmap. A buffer that needs more than `max_block_classes` classes (half
the pool by default) is allocated *class-free*, directly from the backend, so that large
buffers never fragment the class system; so is any buffer for which no run of free classes is
long enough (a *fallback*, counted in `stats()`), rather than failing.

Every piece of memory handed out is an `Allocation`. It is returned by `Allocation.free()` or,
when the last buffer (and NumPy view) referring to it is gone, by the garbage collector.
"""

from __future__ import annotations

import operator
import threading
import weakref
from collections import deque
from typing import Any

from hologram.backends.base import Backend
from hologram.errors import AllocationError
from hologram.isa.geometry import CLASS_BYTES, NUM_CLASSES, POOL_BYTES

_ALL_CLASSES = (1 << NUM_CLASSES) - 1


class Allocation:
    """A byte range `[offset, offset + nbytes)` of a backend handle that buffers live in.

    Three kinds exist: a run of classes of the boundary pool (`owns_classes`), a class-free
    backend allocation, or a *borrowed* range of memory the allocator does not own (a host
    array wrapped without a copy), which `free()` only marks as freed.
    """

    __slots__ = (
        "handle",
        "offset",
        "nbytes",
        "first_class",
        "num_classes",
        "allocator",
        "freed",
        "_finalizer",
        "__weakref__",
    )

    def __init__(
        self,
        handle: Any,
        offset: int,
        nbytes: int,
        allocator: ClassAllocator | None = None,
        first_class: int = -1,
        num_classes: int = 0,
    ) -> None:
        self.handle = handle
        self.offset = offset
        self.nbytes = nbytes
        self.allocator = allocator
        self.first_class = first_class
        self.num_classes = num_classes
        self.freed = False
        self._finalizer: weakref.finalize | None = None

    @classmethod
    def borrowed(cls, handle: Any, nbytes: int) -> Allocation:
        """Memory owned by someone else (e.g. a NumPy array viewed without a copy)."""
        return cls(handle, 0, nbytes)

    @property
    def owns_classes(self) -> bool:
        """True when this allocation is a run of classes of the boundary pool."""
        return self.num_classes > 0

    @property
    def is_borrowed(self) -> bool:
        """True when the memory belongs to someone else and is never released here."""
        return self.allocator is None

    @property
    def classes(self) -> range | None:
        """The classes this allocation occupies, or None when it is not class-backed."""
        if not self.owns_classes:
            return None
        return range(self.first_class, self.first_class + self.num_classes)

    def free(self) -> None:
        """Release the memory; a second call raises AllocationError."""
        if self.allocator is not None:
            self.allocator.free(self)
            return
        if self.freed:
            raise AllocationError(f"double free of {self.describe()}")
        self.freed = True

    def describe(self) -> str:
        """A short human-readable description used in error messages."""
        if self.owns_classes:
            last = self.first_class + self.num_classes - 1
            return f"a {self.nbytes}-byte allocation in classes {self.first_class}..{last}"
        if self.is_borrowed:
            return f"a {self.nbytes}-byte borrowed host array"
        return f"a {self.nbytes}-byte class-free allocation"

    def __repr__(self) -> str:
        state = ", freed" if self.freed else ""
        return f"<Allocation: {self.describe()}{state}>"


def classes_needed(nbytes: int) -> int:
    """How many consecutive classes a buffer of `nbytes` takes (0 for an empty buffer)."""
    return -(-nbytes // CLASS_BYTES)


class ClassAllocator:
    """Hands out runs of consecutive classes of one lazily allocated boundary pool."""

    def __init__(self, backend: Backend, max_block_classes: int = NUM_CLASSES // 2) -> None:
        if not 1 <= max_block_classes <= NUM_CLASSES:
            raise AllocationError(
                f"max_block_classes must be in [1, {NUM_CLASSES}], got {max_block_classes}"
            )
        self.backend = backend
        self.max_block_classes = max_block_classes
        self._pool: Any = None
        self._used = 0  # bit c set: class c is taken
        self._lock = threading.RLock()
        # Finalizers may run inside any allocation (the garbage collector fires there), so they
        # only queue their release; the queue is drained under the lock by the next operation.
        self._pending: deque[tuple[int, int, Any, int]] = deque()
        self._class_allocations = 0
        self._class_free_allocations = 0
        self._fallback_allocations = 0
        self._live_class_free = 0
        self._class_free_bytes = 0

    # ------------------------------------------------------------ the pool
    @property
    def pool_handle(self) -> Any:
        """The backend handle of the boundary pool, or None before the first class is used."""
        return self._pool

    @property
    def bitmap(self) -> int:
        """The occupancy bitmap: bit c is set when class c is in use."""
        with self._lock:
            self._drain()
            return self._used

    def used_classes(self) -> list[int]:
        """The indices of the classes in use, ascending."""
        used = self.bitmap
        return [c for c in range(NUM_CLASSES) if used >> c & 1]

    # ------------------------------------------------------------ allocate and free
    def allocate(self, nbytes: int) -> Allocation:
        """Memory for `nbytes`: consecutive classes when small enough and free, else class-free."""
        nbytes = _byte_count(nbytes)
        needed = classes_needed(nbytes)
        with self._lock:
            self._drain()
            if needed == 0:
                # An empty buffer needs no class; a zero-byte backend allocation keeps it valid.
                return self._track(Allocation(self.backend.allocate(0), 0, 0, self))
            if needed <= self.max_block_classes:
                first = self._find_run(needed)
                if first >= 0:
                    return self._take_classes(first, needed, nbytes)
                self._fallback_allocations += 1
            return self._allocate_class_free(nbytes)

    def allocate_class_free(self, nbytes: int) -> Allocation:
        """Memory for `nbytes` outside the classes: for buffers kept long, which would hold
        classes that short-lived small buffers need."""
        nbytes = _byte_count(nbytes)
        with self._lock:
            self._drain()
            return self._allocate_class_free(nbytes)

    def free(self, allocation: Allocation) -> None:
        """Return `allocation` now; freeing it twice raises AllocationError."""
        if allocation.allocator is not self:
            raise AllocationError(f"{allocation.describe()} does not belong to this allocator")
        with self._lock:
            if allocation.freed:
                raise AllocationError(f"double free of {allocation.describe()}")
            allocation.freed = True
            if allocation._finalizer is not None:
                allocation._finalizer.detach()
            self._drain()
            self._release(_token(allocation))

    def _find_run(self, count: int) -> int:
        mask = (1 << count) - 1
        for first in range(NUM_CLASSES - count + 1):
            if not self._used & (mask << first):
                return first
        return -1

    def _take_classes(self, first: int, count: int, nbytes: int) -> Allocation:
        if self._pool is None:
            self._pool = self.backend.allocate(POOL_BYTES)
        self._used |= ((1 << count) - 1) << first
        self._class_allocations += 1
        allocation = Allocation(self._pool, first * CLASS_BYTES, nbytes, self, first, count)
        return self._track(allocation)

    def _allocate_class_free(self, nbytes: int) -> Allocation:
        handle = self.backend.allocate(nbytes)
        self._class_free_allocations += 1
        self._live_class_free += 1
        self._class_free_bytes += nbytes
        return self._track(Allocation(handle, 0, nbytes, self))

    def _track(self, allocation: Allocation) -> Allocation:
        finalizer = weakref.finalize(allocation, self._pending.append, _token(allocation))
        finalizer.atexit = False
        allocation._finalizer = finalizer
        return allocation

    def _drain(self) -> None:
        while self._pending:
            self._release(self._pending.popleft())

    def _release(self, token: tuple[int, int, Any, int]) -> None:
        first, count, handle, nbytes = token
        if count:
            self._used &= ~(((1 << count) - 1) << first)
        elif handle is not None:
            if nbytes:
                self._live_class_free -= 1
                self._class_free_bytes -= nbytes
            self.backend.free(handle)

    # ------------------------------------------------------------ statistics
    def largest_free_run(self) -> int:
        """The length of the longest run of consecutive free classes."""
        with self._lock:
            self._drain()
            return _longest_run(~self._used & _ALL_CLASSES)

    def stats(self) -> dict[str, Any]:
        """Occupancy and counters of the class system.

        classes_used / classes_free: classes taken / free now; largest_free_run: the longest
        run of free classes; fragmentation: 1 - largest_free_run / classes_free (0 when
        nothing or everything is free); class_free_bytes and live_class_free_allocations:
        bytes and allocations currently held outside the class system; class_allocations and
        class_free_allocations: allocations made so far of each kind; fallback_allocations:
        class-free allocations made only because no run of classes was free; pool_bytes: the
        size of the boundary pool; pool_allocated: whether it has been allocated yet.
        """
        with self._lock:
            self._drain()
            used = bin(self._used).count("1")
            free = NUM_CLASSES - used
            run = _longest_run(~self._used & _ALL_CLASSES)
            fragmentation = 0.0 if free in (0, NUM_CLASSES) else 1.0 - run / free
            return {
                "classes_used": used,
                "classes_free": free,
                "largest_free_run": run,
                "fragmentation": fragmentation,
                "class_free_bytes": self._class_free_bytes,
                "live_class_free_allocations": self._live_class_free,
                "class_free_allocations": self._class_free_allocations,
                "class_allocations": self._class_allocations,
                "fallback_allocations": self._fallback_allocations,
                "pool_bytes": POOL_BYTES,
                "pool_allocated": self._pool is not None,
            }


def _token(allocation: Allocation) -> tuple[int, int, Any, int]:
    """What releasing an allocation needs, without a reference to the allocation itself."""
    if allocation.owns_classes:
        return allocation.first_class, allocation.num_classes, None, allocation.nbytes
    return -1, 0, allocation.handle, allocation.nbytes


def _byte_count(nbytes: object) -> int:
    try:
        count = operator.index(nbytes)  # type: ignore[arg-type]
    except TypeError:
        raise AllocationError(f"a byte count must be an integer, got {nbytes!r}") from None
    if count < 0:
        raise AllocationError(f"cannot allocate {count} bytes")
    return count


def _longest_run(bits: int) -> int:
    longest = 0
    while bits:
        # Each step shortens every run of ones by one; the step count is the longest run.
        bits &= bits >> 1
        longest += 1
    return longest
