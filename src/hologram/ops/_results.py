"""Result arrays of planned ops on host backends, recycled once their caller has let go.

A large NumPy array is fresh memory from the operating system each time: `np.empty` of 40 MB
maps new pages, and the kernel that writes the result first pays a page fault per page (about
a third of an add's time at 1e7 float32 elements, on two threads and on NumPy's one alike).
A plan therefore keeps its last large result: when the next call finds that nothing else
refers to it (no name, container or view of the caller's holds it), the caller can no longer
see it, and the call writes its result there, in pages already mapped. Results the caller
still holds are never touched: that call gets new memory, which becomes the kept one.
Allocators of GPU frameworks cache freed blocks for the same reason.

Small results come from NumPy's and the C library's own reuse of freed memory, so only
results of at least `RECYCLE_BYTES` are kept; a plan keeps at most one, of at most
`MAX_RECYCLED_BYTES`. Dropping a plan (`Executor.plans.clear()`) drops its kept result.
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

RECYCLE_BYTES = 1 << 22
"""Results this large or larger are kept for reuse (smaller ones reuse freed heap memory)."""
MAX_RECYCLED_BYTES = 1 << 30
"""Larger results are not kept: holding them would cost more memory than their pages cost."""

_UNREFERENCED = 2
"""`sys.getrefcount` of an array held only by one local name (the call adds one)."""


class RecycledResult:
    """One plan's kept result array (see the module docstring)."""

    __slots__ = ("_kept", "_lock")

    def __init__(self) -> None:
        self._kept: np.ndarray | None = None
        self._lock = threading.Lock()

    def array(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised C-contiguous array of `shape` and `dtype` for a call's result:
        the kept one if nothing else refers to it any more, else a new one (then kept)."""
        nbytes = math.prod(shape) * dtype.itemsize  # np.prod costs ~2 us: a small op's half
        if nbytes < RECYCLE_BYTES or nbytes > MAX_RECYCLED_BYTES:
            return np.empty(shape, dtype)
        with self._lock:
            kept, self._kept = self._kept, None
        # `kept` is now this call's alone, unless the caller still refers to it.
        if (
            kept is None
            or sys.getrefcount(kept) > _UNREFERENCED
            or kept.shape != shape
            or kept.dtype != dtype
        ):
            kept = np.empty(shape, dtype)
        with self._lock:
            self._kept = kept
        return kept
