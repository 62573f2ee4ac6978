"""The cpu backend: ISA programs compiled to native code with Numba, multi-threaded over blocks.

Each program is rendered to Python source (`hologram.codegen.numba_source`), written once to
`<cache_dir>/cpu/<digest>.py` and imported; its functions are `@njit(cache=True)`, so Numba keeps
the machine code beside the file and a second process loads it instead of compiling.
Intrinsic programs (MATMUL, CONV2D) skip Numba and run through NumPy and its BLAS.

Threads: kernels release the GIL, and a launch splits its blocks into chunks that the calling
thread and `threads - 1` pool workers take in turn (`settings().threads`, or one per core).
Small launches run on the calling thread. Programs with atomics run all their blocks on one
thread, which makes their plain read-modify-writes atomic. (Numba's own `prange` would do the
splitting too, but a `parallel=True` kernel takes about five times longer to compile, and
every program pays that once per machine.)
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from hologram.backends.base import HostBackend
from hologram.codegen.numba_exprs import NARROW_FLOATS, memory_dtype, register_dtype
from hologram.codegen.numba_source import NumbaSource, render_numba
from hologram.config import settings
from hologram.errors import CompileError, LaunchError
from hologram.isa.program import LaunchConfig, ParamKind, Program

MIN_PARALLEL_LANES = 1 << 15
"""Launches with fewer lanes than this run on the calling thread: a hand-off costs more."""
SOURCE_EPOCH = 10**9
"""Generated sources get modification times in [1e9, 2e9) seconds, chosen by their text."""
CHUNKS_PER_THREAD = 1
"""Block ranges per thread, so that a thread that finishes early takes more work."""


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


@dataclass(frozen=True)
class NativeKernel:
    """A compiled program: the Numba entry point and where its source lives."""

    function: Any
    source: NumbaSource
    path: Path


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

        self.threads = settings().threads or numba.config.NUMBA_NUM_THREADS
        self.stats = CpuStats()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

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
        self._compile_native(program, function, path)
        return NativeKernel(function, source, path)

    def _compile_native(self, program: Program, function: Any, path: Path) -> None:
        """Compile (or load from the disk cache) the kernel for the program's argument types."""
        from numba.core import event

        signature = kernel_signature(program)
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

            run_intrinsics(program, args)
            return
        from numba.core.errors import NumbaError

        bound = bind_args(program, args)
        dims = (*config.grid, *config.block)
        blocks = config.num_blocks
        serial = kernel.source.serial or self.threads == 1
        try:
            if serial or blocks == 1 or blocks * config.lanes_per_block < MIN_PARALLEL_LANES:
                status = kernel.function(0, blocks, *dims, *bound)
            else:
                status = self._run_chunks(kernel.function, blocks, dims, bound)
        except NumbaError as exc:
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

    def _run_chunks(self, function: Any, blocks: int, dims: tuple, bound: list) -> int:
        chunks = min(blocks, self.threads * CHUNKS_PER_THREAD)
        edges = [blocks * i // chunks for i in range(chunks + 1)]
        order = itertools.count()

        def work() -> int:
            failed = 0
            while (chunk := next(order)) < chunks:
                status = function(edges[chunk], edges[chunk + 1], *dims, *bound)
                failed = failed or int(status)
            return failed

        pool = self._worker_pool()
        futures = [pool.submit(work) for _ in range(self.threads - 1)]
        statuses = [work()]
        # A worker that never got a core before the chunks ran out is not waited for.
        statuses += [future.result() for future in futures if not future.cancel()]
        return next((s for s in statuses if s), 0)

    def _worker_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="hologram-cpu")
            return self._pool


# ---------------------------------------------------------------- source files and signatures
@cache
def runtime_tag() -> str:
    """A hash of the runtime helpers' source: part of every generated module's text."""
    import xxhash

    from hologram.backends import _cpu_runtime

    return xxhash.xxh3_64_hexdigest(Path(_cpu_runtime.__file__).read_bytes())


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
            argtypes.append(types.Array(from_dtype(memory_dtype(param.dtype)), 1, "C"))
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
