"""Multi-thread forms of the cpu backend's compiled float32 products.

A product is cut into disjoint parts of C, each described by its own `sgemm_dims` record:
whole batch entries when there are enough of them, else bands of rows of every entry. The
parts run on Numba's thread pool, one one-thread kernel call (`_cpu_direct.direct`,
`_cpu_gemm.sgemm_serial`) per part, so each element of C is computed by the same kernel over
the same steps of k as on one thread: the result is bitwise the same.

Numba's pool rather than Python threads calling the `nogil` kernels: the backend's parallel
kernels run on that pool, whose OpenMP workers spin for a while after each region, and a
Python worker thread then competes with them for the cores. Measured on two cores between
such launches (benchmarks/gemm_cpu.py), Python-thread parts ran at 0.9-1.0x one thread and
the pool's at 1.5-2.4x; the pool also answers faster than a sleeping thread wakes. Those
workers spin for milliseconds, not like BLAS's (`BLAS_QUIET_SECONDS`), so a product on the
pool starts no quiet time, as the backend's own parallel kernels start none.

On a machine whose cores are busy with other work a second thread can only wait for a core,
so each product learns like the backend's parallel kernels do, with their record and rules
(`cpu._Timing`, `cpu._judge_parallel`): its first launches run on one thread and are timed,
and a split launch slower than the fastest one-thread launch holds the product to one thread
for a time that grows with the loss.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from time import perf_counter
from typing import Any

import numba
import numpy as np

from hologram.backends._cpu_direct import direct
from hologram.backends._cpu_gemm import sgemm_serial
from hologram.backends.cpu import _PARALLEL_LOCK, PARALLEL_WARMUP, _judge_parallel, _Timing

ROW_ALIGN = 12
"""Row bands start at multiples of this: whole tiles of every kernel (6, 2 and 12 rows)."""
RETIME_EVERY = 16
"""Every this many split launches one runs on one thread to retime it. The one-thread best
is what split launches are judged against, and a product's first launches (fresh pages of its
output, a busy core) took 3-9x its later ones in a model: judged against such a best, split
launches 5x slower than one thread still counted as wins."""


def split_dims(dims: np.ndarray, parts: int) -> list[np.ndarray]:
    """`dims` (a `sgemm_dims` record) cut into at most `parts` records of disjoint parts of C:
    batch entries when they divide evenly or are many (or rows are too few to cut), else
    bands of rows of every entry (`ROW_ALIGN` multiples). One record, `dims` itself, where it
    cannot be cut."""
    batch, m = int(dims[0]), int(dims[1])
    if parts < 2:
        return [dims]
    records = []
    uneven = batch % parts and batch < 4 * parts
    if batch > 1 and (not uneven or m <= ROW_ALIGN):
        bounds = [batch * p // parts for p in range(parts + 1)]
        for first, last in zip(bounds, bounds[1:], strict=False):
            if first < last:
                record = dims.copy()
                record[0] = last - first
                for offset in (4, 8, 12):  # A, B and C skip `first` batch strides
                    record[offset] += first * dims[offset + 1]
                records.append(record)
        return records
    share = -(-m // parts)
    band = -(-share // ROW_ALIGN) * ROW_ALIGN
    for first in range(0, m, band):
        record = dims.copy()
        record[1] = min(m, first + band) - first
        record[4] += first * dims[6]  # A's row stride
        record[12] += first * dims[2]  # C is row-major, n wide
        records.append(record)
    return records


# One parallel function per kernel: Numba's disk cache keys its entries by function.
@numba.njit(cache=True, nogil=True, parallel=True)
def _direct_parts(a, b, c, table):  # type: ignore[no-untyped-def]
    refused = 0
    for part in numba.prange(table.shape[0]):
        refused += direct(a, b, c, table[part])
    return refused


@numba.njit(cache=True, nogil=True, parallel=True)
def _packed_parts(a, b, c, table):  # type: ignore[no-untyped-def]
    refused = 0
    for part in numba.prange(table.shape[0]):
        refused += sgemm_serial(a, b, c, table[part])
    return refused


def run_parts(kernel: Callable[..., Any], a: Any, b: Any, c: Any, table: np.ndarray) -> int:
    """`kernel(a, b, c, record)` (`direct` or `sgemm_serial`) for every record, a row of
    `table`, concurrently on Numba's pool: 0 when every part ran, else 1 (a part refused)."""
    parts = _direct_parts if kernel is direct else _packed_parts
    numba.set_num_threads(min(len(table), numba.config.NUMBA_NUM_THREADS))  # per caller
    return int(parts(a, b, c, table) > 0)


class LearnedSplit(ABC):
    """Work run on one thread or in parts on several, learning like the backend's parallel
    kernels (their `_Timing`, one call counting as one lane): its first calls run on one
    thread and are timed, later ones in parts unless held (`_judge_parallel`), another
    library's threads may still hold the cores (`quiet`) or the pool is busy; every
    `RETIME_EVERY` split calls one runs on one thread again. Subclasses say how to run
    (`run_serial`, `run_split`: 0 when done, else a refusal, which is not timed) and how many
    parts a split call runs (`parts`)."""

    def __init__(self, quiet: Callable[[], bool]) -> None:
        self.quiet = quiet  # True while another library's threads may still hold the cores
        self.timing = _Timing()
        self.since_serial = 0  # split calls since the last one-thread call

    @property
    @abstractmethod
    def parts(self) -> int:
        """How many parts a split call runs."""

    @abstractmethod
    def run_serial(self, *args: Any) -> int:
        """Run on this thread alone."""

    @abstractmethod
    def run_split(self, *args: Any) -> int:
        """Run in `parts` parts on Numba's pool."""

    def __call__(self, *args: Any) -> int:
        timing = self.timing
        if timing.serial_runs >= 2 and self.parts > 1 and not timing.held():
            if self.since_serial >= RETIME_EVERY:
                self.since_serial = 0
            # The pool runs one region at a time: a call that finds it busy stays here.
            elif not self.quiet() and _PARALLEL_LOCK.acquire(False):
                try:
                    start = perf_counter()
                    status = self.run_split(*args)
                    elapsed = perf_counter() - start
                finally:
                    _PARALLEL_LOCK.release()
                timing.parallel_runs += 1
                self.since_serial += 1
                if timing.parallel_runs > PARALLEL_WARMUP:
                    _judge_parallel(timing, elapsed, timing.seconds_per_lane)  # type: ignore[arg-type]
                return status
        start = perf_counter()
        status = self.run_serial(*args)
        if not status:
            elapsed = perf_counter() - start
            known = timing.seconds_per_lane
            timing.seconds_per_lane = elapsed if known is None else min(known, elapsed)
            timing.serial_runs += 1
        return status


class SplitProduct(LearnedSplit):
    """One product's compiled kernel run on one thread or in parts on several
    (`LearnedSplit`). Called like the kernel without its `dims`: (A, B, C) -> 0 when done,
    1 when refused."""

    def __init__(
        self,
        kernel: Callable[..., Any],
        dims: np.ndarray,
        threads: int,
        quiet: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__(quiet)
        self.kernel, self.dims = kernel, dims
        threads = min(threads, numba.config.NUMBA_NUM_THREADS)
        self.table = np.stack(split_dims(dims, threads))

    @property
    def parts(self) -> int:
        """How many parts a split launch runs."""
        return len(self.table)

    def run_serial(self, a: Any, b: Any, c: Any) -> int:  # type: ignore[override]
        """The whole product on this thread."""
        return int(self.kernel(a, b, c, self.dims))

    def run_split(self, a: Any, b: Any, c: Any) -> int:  # type: ignore[override]
        """The product's parts on Numba's pool."""
        return run_parts(self.kernel, a, b, c, self.table)
