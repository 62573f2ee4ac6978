"""The cpu backend: ISA programs compiled to native code with Numba, multi-threaded over blocks.

Each program is rendered to Python source (`hologram.codegen.numba_source`), written once to
`<cache_dir>/cpu/<digest>.py` and imported; its functions are `@njit(cache=True)`, so Numba keeps
the machine code beside the file and a second process loads it instead of compiling.
Intrinsic programs (MATMUL, CONV2D) skip Numba and run through NumPy and its BLAS.

Threads: every kernel has a one-thread entry and a `prange` entry over Numba's thread pool
(`settings().threads`, or one per core). The pool pays off only for launches that take a while
on one thread, and a `parallel=True` function takes a second or so to compile, so a kernel's
first `SERIAL_PROBES` launches run on one thread and are timed; a later launch goes to the
pool when the fastest time per lane seen says it would take at least `min_parallel_seconds`
on one thread.
Only then is the parallel entry compiled (once, and cached on disk). A parallel launch slower
than the one-thread estimate (other processes own the cores) sends the kernel back to one
thread for a while, from the second loss in a row: 16 times the time it lost, doubled with
each further loss (a time, not a count of launches, so that a burst of contention is
forgotten once it has passed); a
kernel's first parallel launches, which wake the pool, are not judged.
A launch whose arguments are checked (every `launch`, and `bind_launch` once) calls the
compiled function's native entry point directly, skipping Numba's type dispatch; a bound launch
whose kernel is known to stay on one thread skips the timing too.
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

from hologram.backends._cpu_intrinsics import BLAS_QUIET_SECONDS, blas_threads
from hologram.backends.base import HostBackend
from hologram.codegen.numba_exprs import NARROW_FLOATS, memory_dtype, register_dtype
from hologram.codegen.numba_source import PARALLEL_ENTRY, NumbaSource, render_numba
from hologram.config import settings
from hologram.errors import CompileError, LaunchError
from hologram.isa.program import LaunchConfig, Param, ParamKind, Program

MIN_PARALLEL_SECONDS = 50e-6
"""Launches estimated to take less than this on one thread stay on one thread."""
SERIAL_PROBES = 3
"""A kernel's first launches, timed on one thread before any goes parallel. The fastest of
them is what parallel launches are judged against, so it must be a warm launch: an op's first
two calls both write fresh memory (the allocator maps new pages for the first two results of
a size), which made the estimate of a 1e6-element add 3x its warm time."""
MAX_BACKOFF = 1024
"""The most a kernel's hold is multiplied by after parallel launches kept losing in a row."""

LOSS_AMORTISED = 16
"""A parallel launch that lost holds its kernel to one thread for this many times the time it
lost (times the back-off), so that retries cost at most about 1/16 of the time that passes."""

MAX_HOLD_SECONDS = 2.0
"""The longest one lost parallel launch holds its kernel to one thread."""
LOSSES_TO_HOLD = 2
"""Parallel launches lost in a row before a kernel is held to one thread: waking a sleeping
thread took 13-34 us at the median on a shared machine, but now and then milliseconds, and a
hold after each such launch kept 1e6-element ops on one thread for a whole benchmark."""
PARALLEL_WARMUP = 2
"""A kernel's first parallel launches, which are not judged against one thread: the first
starts or wakes the thread pool and faults the parallel code in (8-24 ms at 1e6 lanes, 100x
a warm launch), and the second took 0.1-16 ms where later ones took 75 us. Judged like the
others, they held the kernel to one thread for hundreds of launches."""
_PARALLEL_LOCK = threading.Lock()
"""Numba's default thread pool runs one parallel region at a time in a process; a launch that
finds it busy runs on its own thread instead."""
_COMPILE_LOCK = threading.RLock()
"""Held while a kernel module is written, imported and compiled."""
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
    held_until: float = 0.0  # perf_counter() before which launches stay on one thread
    backoff: int = 1  # multiplies the next hold if a parallel launch loses
    losses: int = 0  # parallel launches lost in a row
    parallel_ready: bool = False
    parallel_runs: int = 0

    def held(self) -> bool:
        """Whether a lost parallel launch still holds this kernel to one thread."""
        return self.held_until > 0.0 and perf_counter() < self.held_until


@dataclass(frozen=True)
class NativeKernel:
    """A compiled program: its Numba entry points and where its source lives.

    `entry` is the one-thread function's compiled entry point for `kernel_signature`: it
    converts its arguments without checking their types, so only checked arguments (the
    signature's dtypes, 1-D, C-contiguous and aligned arrays) may reach it.
    """

    function: Any
    parallel: Any  # the prange entry, compiled on first use
    source: NumbaSource
    path: Path
    entry: Any = None
    timing: _Timing = field(default_factory=_Timing)
    """The kernel's own record: whether its parallel entry is compiled."""
    sizes: dict[int, _Timing] = field(default_factory=dict)
    """What launches of each size class taught (`timing_for`)."""

    def timing_for(self, lanes: int) -> _Timing:
        """The record of launches of about `lanes` lanes (within a factor of 4): time per
        lane grows with a launch's size once its data leaves the caches, so the best time per
        lane of small launches would make every large parallel launch look lost."""
        size = lanes.bit_length() // 2
        timing = self.sizes.get(size)
        if timing is None:
            timing = self.sizes.setdefault(size, _Timing())
        return timing


@dataclass(frozen=True)
class IntrinsicKernel:
    """An intrinsic-only program, executed through NumPy (`run` takes the launch's args)."""

    program: Program
    run: Callable[[list], None]


class CpuBackend(HostBackend):
    """Compiles ISA programs to native code with Numba and runs them on host memory."""

    name: ClassVar[str] = "cpu"

    def __init__(self) -> None:
        super().__init__()
        import numba

        # Numba starts NUMBA_NUM_THREADS workers and cannot use more.
        wanted = settings().threads or numba.config.NUMBA_NUM_THREADS
        self._policy = 0
        self.threads = min(wanted, numba.config.NUMBA_NUM_THREADS)
        self.min_parallel_seconds = MIN_PARALLEL_SECONDS
        self.stats = CpuStats()
        self._intrinsic_finished = float("-inf")

    # The thread count and the parallel threshold decide which launches may go parallel; a
    # bound launch found to stay on one thread remembers the `_policy` it was found under.
    @property
    def threads(self) -> int:
        """Threads of a parallel launch (at most Numba's pool)."""
        return self._threads

    @threads.setter
    def threads(self, value: int) -> None:
        self._threads = value
        self._policy += 1

    @property
    def min_parallel_seconds(self) -> float:
        """Launches estimated to take less than this on one thread stay on one thread."""
        return self._min_parallel_seconds

    @min_parallel_seconds.setter
    def min_parallel_seconds(self, value: float) -> None:
        self._min_parallel_seconds = value
        self._policy += 1

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
            from hologram.backends._cpu_intrinsics import prepare_intrinsics

            return IntrinsicKernel(program, prepare_intrinsics(program))
        source = render_numba(program, runtime_tag())
        # One compile at a time: a module is in sys.modules before its body has run, so a
        # second thread importing the same program would otherwise see it half made.
        with _COMPILE_LOCK:
            path = _write_source(program.digest, source.text)
            module = _import_source(program.digest, path)
            function = getattr(module, source.entry)
            signature = kernel_signature(program)
            self._compile_native(program, function, path, signature)
        overload = function.overloads.get(signature)
        entry = getattr(overload, "entry_point", None)
        return NativeKernel(function, getattr(module, PARALLEL_ENTRY), source, path, entry)

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
            try:
                kernel.run(args)
            finally:
                self._blas_finished()
            return
        bound = bind_args(program, args)
        entry = kernel.entry if all(_aligned(arg) for arg in bound) else None
        self._run_checked(kernel, program, config, (*config.grid, *config.block, *bound), entry)

    def bind_launch(
        self, program: Program, config: LaunchConfig, args: Sequence[Any]
    ) -> Callable[[], None]:
        """A launch with fixed arguments, checked and bound to the kernel's representation once
        (a plan's launches on its arena and constants)."""
        return self.bind_slotted_launch(program, config, args, ())

    def bind_slotted_launch(
        self, program: Program, config: LaunchConfig, args: Sequence[Any], slots: Sequence[int]
    ) -> Callable[..., None]:
        """See `Backend.bind_slotted_launch`: the fixed arguments are checked and converted
        once; each call checks only the values it is given (a value this fast path cannot
        take, such as an unaligned view, goes through `launch`).

        The launch returned has an `unchecked` attribute: the same launch without those checks,
        for a caller that knows its values are what the fast path takes (1-D, C-contiguous,
        aligned arrays of each parameter's dtype, writeable where the kernel writes), such as
        the outputs a plan runner has just allocated; None where some value needs converting
        (narrow floats, pools, scalars)."""
        kernel = self.compile(program)
        slots, fixed, params = tuple(slots), list(args), program.params
        if len(fixed) != len(params):
            self.check_args(program, fixed)  # raises, naming the parameters
        if any(not 0 <= s < len(params) for s in slots) or len(set(slots)) != len(slots):
            raise LaunchError(f"program {program.name!r}: open positions {slots} are invalid")
        stand_ins = list(fixed)
        for position in slots:
            stand_ins[position] = _placeholder(params[position])
        checked: list[Any] = self.check_args(program, stand_ins)
        for position in slots:
            checked[position] = None
        if isinstance(kernel, IntrinsicKernel):
            return self._bind_intrinsic(kernel, program, config, checked, slots)
        bound = [
            None if position in slots else _bind_arg(param, arg)
            for position, (param, arg) in enumerate(zip(params, checked, strict=True))
        ]
        # The entry point takes only checked arguments: unaligned fixed views go through
        # Numba's dispatch, which compiles a variant for them.
        entry = kernel.entry if all(_aligned(arg) for arg in bound) else None
        call = [*config.grid, *config.block, *bound]
        positions = tuple(len(call) - len(bound) + s for s in slots)
        converters = tuple(_slot_converter(params[s]) for s in slots)
        blocks, lanes = config.num_blocks, config.num_blocks * config.lanes_per_block
        settled = [-1]  # the `_policy` under which this launch was found to stay serial

        def run(args: list) -> None:
            if settled[0] == self._policy:
                status = entry(0, blocks, *args)
                if status:
                    raise _divergence(program, status)
                return
            self._run_checked(kernel, program, config, args, entry)
            if entry is not None and self._stays_serial(kernel, blocks, lanes):
                settled[0] = self._policy

        if not slots:
            return functools.partial(run, call)

        def unchecked(*values: Any) -> None:
            args = call.copy()
            for position, value in zip(positions, values, strict=True):
                args[position] = value
            run(args)

        def launch(*values: Any) -> None:
            if len(values) != len(slots):
                raise LaunchError(
                    f"program {program.name!r}: {len(slots)} open arguments, got {len(values)}"
                )
            args = call.copy()
            for position, convert, value in zip(positions, converters, values, strict=True):
                arg = convert(value)
                if arg is None:
                    merged = list(fixed)
                    for slot, given in zip(slots, values, strict=True):
                        merged[slot] = given
                    self.launch(program, config, merged)
                    return
                args[position] = arg
            run(args)

        plain = _plain_slots(params, slots)
        launch.unchecked = unchecked if plain else None  # type: ignore[attr-defined]
        return launch

    def _bind_intrinsic(
        self,
        kernel: IntrinsicKernel,
        program: Program,
        config: LaunchConfig,
        checked: list,
        slots: tuple[int, ...],
    ) -> Callable[..., None]:
        converters = tuple(_slot_converter(program.params[s]) for s in slots)
        run = kernel.run

        def unchecked(*values: Any) -> None:
            args = checked.copy()
            for position, value in zip(slots, values, strict=True):
                args[position] = value
            try:
                run(args)
            finally:
                self._blas_finished()

        def launch(*values: Any) -> None:
            if len(values) != len(slots):
                raise LaunchError(
                    f"program {program.name!r}: {len(slots)} open arguments, got {len(values)}"
                )
            args = checked
            if values:
                args = checked.copy()
                usable = True
                # Intrinsics take the checked arrays themselves (no narrow-float views).
                for position, convert, value in zip(slots, converters, values, strict=True):
                    args[position] = value
                    usable = usable and convert(value) is not None
                if not usable:
                    self._launch(kernel, program, config, self.check_args(program, args))
                    return
            try:
                run(args)
            finally:
                self._blas_finished()

        plain = _plain_slots(program.params, slots)
        launch.unchecked = unchecked if plain else None  # type: ignore[attr-defined]
        return launch

    def _stays_serial(self, kernel: NativeKernel, blocks: int, lanes: int) -> bool:
        """Whether every later launch of this size is sure to run on one thread (the fastest
        time per lane seen only falls, so an estimate under the threshold stays under it)."""
        if self.threads < 2 or blocks < 2:
            return True
        timing = kernel.timing_for(lanes)
        if timing.serial_runs < SERIAL_PROBES or timing.seconds_per_lane is None:
            return False
        return timing.seconds_per_lane * lanes < self.min_parallel_seconds

    def _run_checked(
        self,
        kernel: NativeKernel,
        program: Program,
        config: LaunchConfig,
        call: Sequence[Any],
        entry: Any = None,
    ) -> int:
        try:
            status = self._run(kernel, program, config, call, entry)
        except _numba_error() as exc:
            # Arguments of other array flags (unaligned views, say) compile a new variant here.
            raise CompileError(
                f"program {program.name!r}: Numba could not compile the kernel {kernel.path} "
                f"for these arguments: {exc}"
            ) from exc
        if status:
            raise _divergence(program, status)
        return status

    def _run(
        self,
        kernel: NativeKernel,
        program: Program,
        config: LaunchConfig,
        call: Sequence[Any],
        entry: Any = None,
    ) -> int:
        """Run every block, on one thread or on the pool, and return the kernel's status
        (one thread through `entry` when given: the arguments are checked)."""
        blocks = config.num_blocks
        lanes = blocks * config.lanes_per_block
        timing = kernel.timing_for(lanes)
        if self._wants_parallel(kernel, blocks, lanes) and _PARALLEL_LOCK.acquire(False):
            try:
                return self._run_parallel(kernel, program, blocks, lanes, call)
            finally:
                _PARALLEL_LOCK.release()
        start = perf_counter()
        status = int((entry or kernel.function)(0, blocks, *call))
        measured = (perf_counter() - start) / lanes
        known = timing.seconds_per_lane
        timing.seconds_per_lane = measured if known is None else min(known, measured)
        timing.serial_runs += 1
        return status

    def _blas_finished(self) -> None:
        # Only a product that ran on several BLAS threads leaves workers spinning on the cores
        # (not one on the compiled kernels, whose worker threads wait on a lock).
        if blas_threads.finished():
            self._intrinsic_finished = perf_counter()

    def _wants_parallel(self, kernel: NativeKernel, blocks: int, lanes: int) -> bool:
        timing = kernel.timing_for(lanes)
        if self.threads < 2 or blocks < 2:
            return False
        if timing.serial_runs < SERIAL_PROBES or timing.seconds_per_lane is None:
            return False
        if perf_counter() - self._intrinsic_finished < BLAS_QUIET_SECONDS:
            return False
        if timing.held():
            return False
        return timing.seconds_per_lane * lanes >= self.min_parallel_seconds

    def _run_parallel(
        self, kernel: NativeKernel, program: Program, blocks: int, lanes: int, call: Sequence
    ) -> int:
        import numba
        from numba import types

        if not kernel.timing.parallel_ready:
            signature = (types.int64, *kernel_signature(program))
            self._compile_native(program, kernel.parallel, kernel.path, signature)
            kernel.timing.parallel_ready = True
        timing = kernel.timing_for(lanes)
        numba.set_num_threads(self.threads)  # per calling thread in Numba
        start = perf_counter()
        status = int(kernel.parallel(self.threads, 0, blocks, *call))
        elapsed = perf_counter() - start
        self.stats.parallel_launches += 1
        timing.parallel_runs += 1
        if timing.parallel_runs > PARALLEL_WARMUP:
            _judge_parallel(timing, elapsed, timing.seconds_per_lane * lanes)  # type: ignore[operator]
        return status


def _judge_parallel(timing: _Timing, elapsed: float, serial: float) -> None:
    """Update a kernel's back-off after a parallel launch that took `elapsed` seconds, where
    one thread's best would have taken `serial`."""
    if elapsed <= serial:
        timing.backoff = max(1, timing.backoff // 2)
        timing.losses = 0
        return
    timing.losses += 1
    if timing.losses < LOSSES_TO_HOLD:
        return  # one slow launch alone is noise: a thread woken late, a page fault
    # Hold for LOSS_AMORTISED times the time it lost: a parallel launch that waited
    # milliseconds for a busy core, retried soon, would double the kernel's time on a busy
    # machine. What it lost is its excess over one thread's best, not its whole time (the best
    # is a minimum: noise crosses it often). The hold is a time, not a count of launches: a
    # burst of contention (another library's threads spinning after its own call) made a
    # kernel launched once per model run lose 10-100x once, and a count of 16x that many
    # launches held it to one thread for seconds after the burst had passed.
    hold = LOSS_AMORTISED * (elapsed - serial) * timing.backoff
    timing.held_until = perf_counter() + min(hold, MAX_HOLD_SECONDS)
    timing.backoff = min(2 * timing.backoff, MAX_BACKOFF)


def _divergence(program: Program, status: int) -> LaunchError:
    inst = program.instructions[status - 1]
    return LaunchError(
        f"program {program.name!r}: {inst.op.value} at instruction {status - 1} was not "
        "reached by every lane of its block that has not exited (divergent control flow)"
    )


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

    from hologram.backends import _cpu_math, _cpu_runtime, _cpu_vector_pow

    modules = (_cpu_runtime, _cpu_math, _cpu_vector_pow)
    sources = b"".join(Path(m.__file__).read_bytes() for m in modules)
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
    return [_bind_arg(param, arg) for param, arg in zip(program.params, args, strict=True)]


def _bind_arg(param: Param, arg: Any) -> Any:
    """One checked argument in the kernel's representation (see `bind_args`)."""
    narrow = param.dtype in NARROW_FLOATS
    memory = param.kind is not ParamKind.SCALAR
    if memory and param.access.can_write and not arg.flags.writeable:
        raise LaunchError(f"{param.kind.value} parameter {param.name!r} is read-only")
    if param.kind is ParamKind.SCALAR:
        return np.float32(arg) if narrow else arg
    if param.kind is ParamKind.BUFFER:
        return arg.view(np.uint16) if narrow else arg
    element = memory_dtype(param.dtype)
    usable = arg.nbytes - arg.nbytes % element.itemsize
    return arg[:usable].view(element)


def _aligned(arg: Any) -> bool:
    return not isinstance(arg, np.ndarray) or arg.flags.aligned


def _placeholder(param: Param) -> Any:
    """A valid stand-in for an open argument, so that the fixed ones are checked as usual."""
    if param.kind is ParamKind.SCALAR:
        return 0
    dtype = param.dtype.numpy if param.kind is ParamKind.BUFFER else np.uint8
    return np.zeros(1, dtype)


def _plain_slots(params: Sequence[Param], slots: Sequence[int]) -> bool:
    """Whether every open parameter takes the caller's arrays as they are (buffers of a dtype
    the kernel does not reinterpret), so that a launch without checks needs no conversion."""
    return all(
        params[s].kind is ParamKind.BUFFER and params[s].dtype not in NARROW_FLOATS for s in slots
    )


def _slot_converter(param: Param) -> Callable[[Any], Any]:
    """A check and conversion of one open argument of a bound launch: the kernel's
    representation of a value the entry point can take, or None for anything else (the
    launch then goes through the full checks)."""
    if param.kind is not ParamKind.BUFFER:

        def checked(value: Any) -> Any:
            return None  # scalars and pools in open slots take the full path

        return checked
    dtype = param.dtype.numpy
    writes = param.access.can_write
    narrow = param.dtype in NARROW_FLOATS

    def convert(value: Any) -> Any:
        if type(value) is not np.ndarray or value.dtype != dtype or value.ndim != 1:
            return None
        flags = value.flags
        if not (flags.c_contiguous and flags.aligned) or (writes and not flags.writeable):
            return None
        return value.view(np.uint16) if narrow else value

    return convert


BACKEND = CpuBackend
