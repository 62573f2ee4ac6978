"""The cpu backend: ISA programs compiled to native code with Numba, multi-threaded over blocks.

Each program is rendered to Python source (`hologram.codegen.numba_source`), written once to
`<cache_dir>/cpu/<digest>.py` and imported; its functions are `@njit(cache=True)`, so Numba keeps
the machine code beside the file and a second process loads it instead of compiling.
Intrinsic programs (MATMUL, CONV2D) skip Numba and run through NumPy and its BLAS.

Threads: every kernel has a one-thread entry and a `prange` entry over Numba's thread pool
(`settings().threads`, or one per core). The pool pays off only for launches that take a while
on one thread, and a `parallel=True` function takes a second or so to compile, so a kernel's
first two launches run on one thread and are timed; a later launch goes to the pool when the
fastest time per lane seen says it would take at least `min_parallel_seconds` on one thread.
Only then is the parallel entry compiled (once, and cached on disk). A parallel launch slower
than the one-thread estimate (other processes own the cores) sends the kernel back to one
thread for a number of launches that doubles each time.
Atomics: the one-thread entry updates memory with plain read-modify-writes (atomic when one
thread runs every block; old values come back in lane order, as in the reference); the
parallel entry of a program with atomics runs a variant whose atomics are compare-and-swap
loops.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from time import perf_counter
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from hologram.backends.base import HostBackend
from hologram.codegen.numba_exprs import NARROW_FLOATS, memory_dtype, register_dtype
from hologram.codegen.numba_source import PARALLEL_ENTRY, NumbaSource, render_numba
from hologram.config import settings
from hologram.errors import CompileError, LaunchError
from hologram.isa.program import LaunchConfig, ParamKind, Program

MIN_PARALLEL_SECONDS = 50e-6
"""Launches estimated to take less than this on one thread stay on one thread."""
MAX_BACKOFF = 1024
"""The most one-thread launches a kernel is held to after a parallel launch lost."""
_PARALLEL_LOCK = threading.Lock()
"""Numba's default thread pool runs one parallel region at a time in a process; a launch that
finds it busy runs on its own thread instead."""
BLAS_QUIET_SECONDS = 0.2
"""After an intrinsic (BLAS) launch, kernels run on one thread for this long: BLAS worker
threads keep spinning after a call, and a parallel kernel competing with them for the cores
ran 20-50x slower than on one thread (and slowed the next BLAS call too)."""
SOURCE_EPOCH = 10**9
"""Generated sources get modification times in [1e9, 2e9) seconds, chosen by their text."""


@dataclass
class CpuStats:
    """What this backend's compilations cost, counted since it was created.

    `cache_hits`: kernels whose machine code came from the on-disk cache; `cache_misses`:
    kernels that were not there; `compiled`: Numba compilations actually run (kernels and the
    helpers they call), so 0 means a process compiled nothing.
    """

    compiled: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    parallel_launches: int = 0


@dataclass
class _Timing:
    """What one kernel's launches taught us: one-thread speed and parallel back-off."""

    seconds_per_lane: float | None = None  # the fastest one-thread launch seen
    serial_runs: int = 0
    hold: int = 0  # one-thread launches still to run before trying parallel again
    backoff: int = 1  # the next `hold` if a parallel launch loses
    parallel_ready: bool = False


@dataclass(frozen=True)
class NativeKernel:
    """A compiled program: its Numba entry points and where its source lives."""

    function: Any
    parallel: Any  # the prange entry, compiled on first use
    source: NumbaSource
    path: Path
    timing: _Timing = field(default_factory=_Timing)


@dataclass(frozen=True)
class IntrinsicKernel:
    """An intrinsic-only program, executed through NumPy."""

    program: Program


class CpuBackend(HostBackend):
    """Compiles ISA programs to native code with Numba and runs them on host memory."""

    name: ClassVar[str] = "cpu"

    def __init__(self) -> None:
        super().__init__()
        import numba

        # Numba starts NUMBA_NUM_THREADS workers and cannot use more.
        wanted = settings().threads or numba.config.NUMBA_NUM_THREADS
        self.threads = min(wanted, numba.config.NUMBA_NUM_THREADS)
        self.min_parallel_seconds = MIN_PARALLEL_SECONDS
        self.stats = CpuStats()
        self._intrinsic_finished = float("-inf")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        try:
            import numba
        except ImportError as exc:
            return False, f"numba cannot be imported: {exc}"
        return True, f"numba {numba.__version__}"

    def device_name(self) -> str:
        return f"cpu ({self.threads} threads, Numba)"

    # ------------------------------------------------------------ compile
    def _compile(self, program: Program) -> NativeKernel | IntrinsicKernel:
        if program.is_intrinsic:
            return IntrinsicKernel(program)
        source = render_numba(program, runtime_tag())
        path = _write_source(program.digest, source.text)
        module = _import_source(program.digest, path)
        function = getattr(module, source.entry)
        self._compile_native(program, function, path, kernel_signature(program))
        return NativeKernel(function, getattr(module, PARALLEL_ENTRY), source, path)

    def _compile_native(
        self, program: Program, function: Any, path: Path, signature: tuple
    ) -> None:
        """Compile (or load from the disk cache) `function` for `signature`."""
        from numba.core import event

        hits = sum(function.stats.cache_hits.values())
        misses = sum(function.stats.cache_misses.values())
        try:
            with event.install_recorder("numba:compile") as recorder:
                function.compile(signature)
        except Exception as exc:  # Numba raises many error types; all mean the same here
            raise CompileError(
                f"program {program.name!r}: Numba could not compile the generated kernel "
                f"{path}: {exc}"
            ) from exc
        self.stats.compiled += sum(1 for _, ev in recorder.buffer if ev.is_start)
        self.stats.cache_hits += sum(function.stats.cache_hits.values()) - hits
        self.stats.cache_misses += sum(function.stats.cache_misses.values()) - misses

    # ------------------------------------------------------------ launch
    def _launch(self, kernel: Any, program: Program, config: LaunchConfig, args: list) -> None:
        if isinstance(kernel, IntrinsicKernel):
            from hologram.backends._cpu_intrinsics import run_intrinsics

            try:
                run_intrinsics(program, args)
            finally:
                self._intrinsic_finished = perf_counter()
            return
        call = (*config.grid, *config.block, *bind_args(program, args))
        self._run_checked(kernel, program, config, call)

    def bind_launch(
        self, program: Program, config: LaunchConfig, args: Sequence[Any]
    ) -> Callable[[], None]:
        """A launch with fixed arguments, checked and bound to the kernel's representation once
        (a plan's launches on its arena and constants)."""
        kernel = self.compile(program)
        checked = self.check_args(program, args)
        if isinstance(kernel, IntrinsicKernel):
            return functools.partial(self._launch, kernel, program, config, checked)
        call = (*config.grid, *config.block, *bind_args(program, checked))
        return functools.partial(self._run_checked, kernel, program, config, call)

    def _run_checked(
        self, kernel: NativeKernel, program: Program, config: LaunchConfig, call: tuple
    ) -> None:
        try:
            status = self._run(kernel, program, config, call)
        except _numba_error() as exc:
            # Arguments of other array flags (unaligned views, say) compile a new variant here.
            raise CompileError(
                f"program {program.name!r}: Numba could not compile the kernel {kernel.path} "
                f"for these arguments: {exc}"
            ) from exc
        if status:
            inst = program.instructions[status - 1]
            raise LaunchError(
                f"program {program.name!r}: {inst.op.value} at instruction {status - 1} was not "
                "reached by every lane of its block that has not exited (divergent control flow)"
            )

    def _run(
        self, kernel: NativeKernel, program: Program, config: LaunchConfig, call: tuple
    ) -> int:
        """Run every block, on one thread or on the pool, and return the kernel's status."""
        timing, blocks = kernel.timing, config.num_blocks
        lanes = blocks * config.lanes_per_block
        if self._wants_parallel(kernel, blocks, lanes) and _PARALLEL_LOCK.acquire(False):
            try:
                return self._run_parallel(kernel, program, blocks, lanes, call)
            finally:
                _PARALLEL_LOCK.release()
        start = perf_counter()
        status = int(kernel.function(0, blocks, *call))
        measured = (perf_counter() - start) / lanes
        known = timing.seconds_per_lane
        timing.seconds_per_lane = measured if known is None else min(known, measured)
        timing.serial_runs += 1
        return status

    def _wants_parallel(self, kernel: NativeKernel, blocks: int, lanes: int) -> bool:
        timing = kernel.timing
        if self.threads < 2 or blocks < 2:
            return False
        if timing.serial_runs < 2 or timing.seconds_per_lane is None:
            # Measure two launches on one thread first: the first also pays for page faults.
            return False
        if perf_counter() - self._intrinsic_finished < BLAS_QUIET_SECONDS:
            return False
        if timing.hold > 0:
            timing.hold -= 1
            return False
        return timing.seconds_per_lane * lanes >= self.min_parallel_seconds

    def _run_parallel(
        self, kernel: NativeKernel, program: Program, blocks: int, lanes: int, call: tuple
    ) -> int:
        import numba
        from numba import types

        timing = kernel.timing
        if not timing.parallel_ready:
            signature = (types.int64, *kernel_signature(program))
            self._compile_native(program, kernel.parallel, kernel.path, signature)
            timing.parallel_ready = True
        numba.set_num_threads(self.threads)  # per calling thread in Numba
        start = perf_counter()
        status = int(kernel.parallel(self.threads, 0, blocks, *call))
        elapsed = perf_counter() - start
        self.stats.parallel_launches += 1
        if elapsed > timing.seconds_per_lane * lanes:  # type: ignore[operator]
            timing.hold, timing.backoff = timing.backoff, min(2 * timing.backoff, MAX_BACKOFF)
        else:
            timing.backoff = 1
        return status


@cache
def _numba_error() -> type[Exception]:
    """Numba's base error class (imported once, off the launch path)."""
    from numba.core.errors import NumbaError

    return NumbaError


# ---------------------------------------------------------------- source files and signatures
@cache
def runtime_tag() -> str:
    """A hash of the runtime helpers' source: part of every generated module's text."""
    import xxhash

    from hologram.backends import _cpu_math, _cpu_runtime

    sources = b"".join(Path(m.__file__).read_bytes() for m in (_cpu_runtime, _cpu_math))
    return xxhash.xxh3_64_hexdigest(sources)


def _write_source(digest: str, text: str) -> Path:
    """Write the module once: an identical existing file is left alone; a different one is
    replaced atomically.

    Numba's cache is keyed on the file's (mtime, size). The mtime is set from a hash of the
    text, so processes racing to write the same module leave the same key behind, and changed
    text gets a new one.
    """
    import xxhash

    directory = Path(settings().cache_dir) / "cpu"
    path = directory / f"{digest}.py"
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return path
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / f".{digest}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        temporary.write_text(text, encoding="utf-8")
        stamp = (SOURCE_EPOCH + xxhash.xxh64_intdigest(text.encode()) % SOURCE_EPOCH) * 10**9
        os.utime(temporary, ns=(stamp, stamp))
        os.replace(temporary, path)
    except OSError as exc:
        raise CompileError(f"cannot write the kernel source {path}: {exc}") from exc
    return path


def _import_source(digest: str, path: Path) -> ModuleType:
    name = f"hologram_cpu_kernel_{digest}"
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) == str(path):
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CompileError(f"cannot import the kernel source {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise CompileError(f"the generated kernel source {path} does not load: {exc}") from exc
    return module


def kernel_signature(program: Program) -> tuple:
    """The Numba argument types of a program's kernel (see `codegen.numba_source`)."""
    from numba import from_dtype, types

    argtypes: list = [types.int64] * 8
    for param in program.params:
        if param.kind is ParamKind.SCALAR:
            argtypes.append(from_dtype(register_dtype(param.dtype)))
        else:
            # Buffers the kernel never writes are typed read-only, so that read-only arrays
            # (constants mapped from an artifact) and writable ones both dispatch to this one
            # compiled function instead of compiling a second variant on first launch.
            element = from_dtype(memory_dtype(param.dtype))
            readonly = param.kind is ParamKind.BUFFER and not param.access.can_write
            argtypes.append(types.Array(element, 1, "C", readonly=readonly))
    return tuple(argtypes)


def bind_args(program: Program, args: list) -> list:
    """Launch arguments in the kernel's representation: narrow floats as uint16 bits or float32
    scalars, pools viewed as arrays of their element type."""
    bound = []
    for param, arg in zip(program.params, args, strict=True):
        narrow = param.dtype in NARROW_FLOATS
        memory = param.kind is not ParamKind.SCALAR
        if memory and param.access.can_write and not arg.flags.writeable:
            raise LaunchError(f"{param.kind.value} parameter {param.name!r} is read-only")
        if param.kind is ParamKind.SCALAR:
            bound.append(np.float32(arg) if narrow else arg)
        elif param.kind is ParamKind.BUFFER:
            bound.append(arg.view(np.uint16) if narrow else arg)
        else:
            element = memory_dtype(param.dtype)
            usable = arg.nbytes - arg.nbytes % element.itemsize
            bound.append(arg[:usable].view(element))
    return bound


BACKEND = CpuBackend
