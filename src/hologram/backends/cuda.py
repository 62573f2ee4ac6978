"""The cuda backend: ISA programs as CUDA C, compiled with NVRTC through CuPy, on NVIDIA GPUs.

Each program is rendered by `hologram.codegen.cuda` and compiled for the device's architecture
by `cupy.RawModule`. CuPy keeps the compiled binaries on disk keyed by a hash of the source
and options; this backend points that cache at `<cache_dir>/cuda` (unless `CUPY_CACHE_DIR` is
set), where it also writes each kernel's source (`<digest>.cu`) for reading. A program compiles
without `__launch_bounds__` first; a launch of more lanes than that build allows recompiles it
with bounds for the full 1,024.

Memory is device memory from CuPy's pool: a handle is a 1-D `cupy.ndarray` of bytes, and a
typed view (`view`) a 1-D `cupy.ndarray` of the dtype over it, which exchanges with CuPy,
PyTorch and anything that speaks `__cuda_array_interface__` or DLPack without a copy. Work runs
on CuPy's current stream; `synchronize` waits for it.

Programs whose lanes need nothing of their block render with several ISA lanes per CUDA
thread (`codegen/cuda.py`, lockstep lanes): such a launch runs on as few CUDA blocks as still
fill every multiprocessor of the GPU (never fewer than the blocks over the lanes per thread),
so that each thread keeps several loads in flight.

Intrinsic programs (MATMUL, CONV2D) run on cuBLAS (`backends/_cuda_intrinsics.py`).

Compiling is thread-safe: one lock serialises compiling and caching (a program asked for from
several threads at once compiles once), while a program already compiled is found without it.

`capture_graph` records a sequence of launches (bound launches, cuBLAS calls) into a CUDA graph
that replays with one call: a run of a whole plan costs one launch of the host's time instead
of one per step. Memory that the captured work allocates for itself (im2col columns, say)
comes from a pool of the graph's own and lives as long as the graph, since every replay
writes it again; cuBLAS is set up for the capture first (see `_cuda_intrinsics`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hologram.backends.base import Backend, check_copy
from hologram.codegen.cuda import CudaSource, render_cuda
from hologram.config import settings
from hologram.errors import AllocationError, CompileError, DTypeError, LaunchError, ProgramError
from hologram.isa.dtypes import DType
from hologram.isa.program import MAX_BLOCK_LANES, LaunchConfig, ParamKind, Program

NVRTC_OPTIONS = ("--std=c++17", "--fmad=false")
"""`--fmad=false`: a separate MUL and ADD each round, as the ISA says (MAD and FMA fuse
explicitly)."""
STATIC_SHARED_LIMIT = 48 * 1024
"""Dynamic shared memory beyond this needs the kernel's opt-in attribute."""
_NARROW = frozenset({DType.F16, DType.BF16})


@dataclass
class CudaKernel:
    """A compiled program: its source and the CuPy kernel for each launch bound built."""

    program: Program
    source: CudaSource
    functions: dict[int | None, Any] = field(default_factory=dict)
    """Launch bound (None: none) -> `cupy.RawKernel`."""
    max_lanes: int = 0
    """The most lanes a block may have with `functions[None]`."""


@dataclass(frozen=True)
class IntrinsicKernel:
    """An intrinsic-only program, run on cuBLAS."""

    program: Program


class CudaBackend(Backend):
    """Compiles ISA programs to CUDA C and runs them on an NVIDIA GPU through CuPy."""

    name: ClassVar[str] = "cuda"
    is_host: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        import cupy

        self._cupy = cupy
        self._cache = Path(settings().cache_dir) / "cuda"
        # CuPy reads its cache directory when it compiles, so this takes effect from here on.
        os.environ.setdefault("CUPY_CACHE_DIR", str(self._cache / "cupy"))
        self._numpy_dtypes = {d: cupy.dtype(d.numpy) for d in DType}
        self._compile_lock = threading.RLock()

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """Available when CuPy imports and sees at least one CUDA device."""
        try:
            import cupy
        except ImportError as exc:
            return False, f"cupy cannot be imported: {exc}"
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CuPy raises its own runtime errors when there is no driver
            return False, f"no CUDA device: {exc}"
        if count < 1:
            return False, "no CUDA device"
        return True, f"cupy {cupy.__version__}, {count} device(s)"

    def device_name(self) -> str:
        """The GPU's name and compute capability."""
        device = self._cupy.cuda.Device()
        props = self._cupy.cuda.runtime.getDeviceProperties(device.id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        return f"{name} (sm_{device.compute_capability}, CUDA via CuPy)"

    # ------------------------------------------------------------ memory
    def allocate(self, nbytes: int) -> Any:
        if nbytes < 0:
            raise AllocationError(f"cannot allocate {nbytes} bytes")
        try:
            return self._cupy.empty(nbytes, dtype=np.uint8)
        except self._cupy.cuda.memory.OutOfMemoryError:
            raise AllocationError(f"out of device memory allocating {nbytes} bytes") from None

    def free(self, handle: Any) -> None:
        # The memory returns to CuPy's pool once the last array over it is gone.
        if not isinstance(handle, self._cupy.ndarray):
            raise AllocationError(f"not a cuda allocation: {type(handle).__name__}")

    def _bytes(self, handle: Any) -> Any:
        if not isinstance(handle, self._cupy.ndarray):
            raise AllocationError(f"not a cuda allocation: {type(handle).__name__}")
        return handle if handle.dtype == np.uint8 else handle.view(np.uint8)

    def copy_in(self, handle: Any, data: np.ndarray, offset: int = 0) -> None:
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        target = self._bytes(handle)
        if offset < 0 or offset + raw.nbytes > target.nbytes:
            raise AllocationError(
                f"copy of {raw.nbytes} bytes at offset {offset} overruns {target.nbytes} bytes"
            )
        if raw.nbytes:
            target[offset : offset + raw.nbytes].set(raw)

    def copy_out(self, handle: Any, nbytes: int, offset: int = 0) -> np.ndarray:
        source = self._bytes(handle)
        if offset < 0 or nbytes < 0 or offset + nbytes > source.nbytes:
            raise AllocationError(
                f"read of {nbytes} bytes at offset {offset} overruns {source.nbytes} bytes"
            )
        if nbytes == 0:
            return np.empty(0, np.uint8)
        return source[offset : offset + nbytes].get()

    def view(self, handle: Any, offset: int, count: int, dtype: DType) -> Any:
        raw = self._bytes(handle)
        nbytes = count * dtype.itemsize
        if offset < 0 or offset + nbytes > raw.nbytes:
            raise AllocationError(
                f"view of {count} x {dtype} at offset {offset} overruns {raw.nbytes} bytes"
            )
        return raw[offset : offset + nbytes].view(self._numpy_dtypes[dtype])

    def size_of(self, handle: Any) -> int:
        return int(self._bytes(handle).nbytes)

    def copy_device(self, target: Any, source: Any, nbytes: int) -> None:
        """As `Backend.copy_device`: one asynchronous copy on the current stream."""
        target_bytes, source_bytes = self._bytes(target), self._bytes(source)
        check_copy(nbytes, target_bytes.nbytes, source_bytes.nbytes)
        if nbytes:
            target_bytes.data.copy_from_device_async(source_bytes.data, nbytes)

    def borrow(self, value: Any) -> tuple[Any, tuple[int, ...], np.dtype] | None:
        """As `Backend.borrow`, for anything with `__cuda_array_interface__` (CuPy arrays,
        PyTorch CUDA tensors, Numba device arrays): viewed through CuPy, without a copy
        unless it is strided; the view keeps the owner alive."""
        if not hasattr(value, "__cuda_array_interface__"):
            return None
        array = self._cupy.asarray(value)
        shape = tuple(array.shape)
        if not array.flags.c_contiguous:
            array = self._cupy.ascontiguousarray(array)
        return array.reshape(-1).view(np.uint8), shape, np.dtype(array.dtype)

    def synchronize(self) -> None:
        """Wait for everything launched on the current stream."""
        self._cupy.cuda.get_current_stream().synchronize()

    def _check_memory_arg(self, name: str, kind: ParamKind, dtype: DType, arg: Any) -> None:
        if not isinstance(arg, self._cupy.ndarray):
            raise LaunchError(
                f"{kind.value} parameter {name!r} needs a cuda array, got {type(arg).__name__}"
            )
        if kind is ParamKind.BUFFER and arg.dtype != self._numpy_dtypes[dtype]:
            raise DTypeError(f"buffer parameter {name!r} is {dtype}, got an array of {arg.dtype}")
        if arg.ndim != 1 or not arg.flags.c_contiguous:
            raise LaunchError(f"{kind.value} parameter {name!r} needs a 1-D contiguous view")

    # ------------------------------------------------------------ graphs
    def capture_graph(self, work: Callable[[], None]) -> CudaGraph:
        """Record what `work` launches into a CUDA graph, without running it.

        Everything `work` launches must already be compiled (run it once first), and it must
        not wait on the device or read device memory on the host: capture forbids both.
        """
        from hologram.backends._cuda_intrinsics import capturing

        cupy = self._cupy
        self.synchronize()
        pool = cupy.cuda.MemoryPool()
        keep: list[Any] = []

        def allocate(nbytes: int) -> Any:
            memory = pool.malloc(nbytes)
            keep.append(memory)  # never back to a pool: the graph writes it on every replay
            return memory

        # The legacy default stream cannot be captured; replays may run on any stream.
        stream = cupy.cuda.Stream(non_blocking=True)
        with cupy.cuda.using_allocator(allocate), stream, capturing(stream.ptr):
            stream.begin_capture()
            try:
                work()
            except BaseException:
                # Ends the broken capture; the error that broke it is the one to report.
                with contextlib.suppress(Exception):
                    stream.end_capture()
                raise
            graph = stream.end_capture()
        return CudaGraph(graph, keep, stream)

    # ------------------------------------------------------------ compile
    def compile(self, program: Program) -> Any:
        """As `Backend.compile`, safe to call from several threads at once."""
        try:
            kernel = self._kernels.get(program.digest)
        except ProgramError:
            kernel = None  # the locked path below reports it
        if kernel is not None:
            return kernel
        with self._compile_lock:
            return super().compile(program)

    def _compile(self, program: Program) -> CudaKernel | IntrinsicKernel:
        if program.is_intrinsic:
            return IntrinsicKernel(program)
        kernel = CudaKernel(program, render_cuda(program))
        function = self._build(program, kernel.source)
        kernel.functions[None] = function
        kernel.max_lanes = int(function.max_threads_per_block)
        return kernel

    def _build(self, program: Program, source: CudaSource) -> Any:
        """Compile `source` with NVRTC (or load it from CuPy's disk cache)."""
        path = self._cache / f"{program.digest}.cu"
        try:
            self._cache.mkdir(parents=True, exist_ok=True)
            if not path.is_file() or path.read_text(encoding="utf-8") != source.text:
                path.write_text(source.text, encoding="utf-8")
        except OSError:
            pass  # the copy for reading is a courtesy; compiling does not need it
        try:
            module = self._cupy.RawModule(code=source.text, options=NVRTC_OPTIONS)
            function = module.get_function(source.entry)
            if source.shared_bytes > STATIC_SHARED_LIMIT:
                function.max_dynamic_shared_size_bytes = source.shared_bytes
            function.max_threads_per_block  # noqa: B018 - loads the module, so errors show here
        except Exception as exc:  # CuPy raises CompileException and CUDA driver errors
            raise CompileError(
                f"program {program.name!r}: NVRTC could not compile the generated kernel "
                f"{path}: {exc}"
            ) from exc
        return function

    # ------------------------------------------------------------ launch
    def _launch(self, kernel: Any, program: Program, config: LaunchConfig, args: list) -> None:
        if isinstance(kernel, IntrinsicKernel):
            from hologram.backends._cuda_intrinsics import run_intrinsic

            for index, instruction in enumerate(program.instructions):
                run_intrinsic(program, index, instruction, args)
            return
        self._run(kernel, config, self.bind_args(program, args))

    def bind_launch(self, program: Program, config: LaunchConfig, args: Any) -> Any:
        """A launch with fixed arguments, checked and turned into kernel arguments once."""
        kernel = self.compile(program)
        checked = self.check_args(program, args)
        if isinstance(kernel, IntrinsicKernel):
            return lambda: self._launch(kernel, program, config, checked)
        function = self._function(kernel, config)
        grid, extra = self._grid(kernel, config)
        bound = (*self.bind_args(program, checked), *extra)
        return _BoundLaunch(function, grid, config.block, bound, kernel, checked)

    def _function(self, kernel: CudaKernel, config: LaunchConfig) -> Any:
        if config.lanes_per_block <= kernel.max_lanes:
            return kernel.functions[None]
        function = kernel.functions.get(MAX_BLOCK_LANES)
        if function is None:
            with self._compile_lock:
                function = kernel.functions.get(MAX_BLOCK_LANES)
                if function is None:
                    source = render_cuda(kernel.program, MAX_BLOCK_LANES)
                    function = self._build(kernel.program, source)
                    kernel.functions[MAX_BLOCK_LANES] = function
        return function

    def _run(self, kernel: CudaKernel, config: LaunchConfig, bound: tuple) -> None:
        function = self._function(kernel, config)
        grid, extra = self._grid(kernel, config)
        function(grid, config.block, (*bound, *extra), shared_mem=kernel.source.shared_bytes)

    def _grid(self, kernel: CudaKernel, config: LaunchConfig) -> tuple[tuple[int, ...], tuple]:
        """The CUDA grid of a launch of `config`, and the arguments the kernel takes past the
        program's: a lockstep kernel gets the ISA grid's blocks along x (`hg_grid`)."""
        lanes = kernel.source.lanes_per_thread
        if lanes == 1:
            return config.grid, ()
        gx, gy, gz = config.grid
        fill = -(-self._resident_lanes // (config.lanes_per_block * gy * gz))
        return (max(-(-gx // lanes), min(gx, fill)), gy, gz), (np.uint32(gx),)

    @cached_property
    def _resident_lanes(self) -> int:
        """The threads the GPU runs at once: its multiprocessors times threads on each."""
        attributes = self._cupy.cuda.Device().attributes
        return int(attributes["MultiProcessorCount"] * attributes["MaxThreadsPerMultiProcessor"])

    def bind_args(self, program: Program, args: list) -> tuple:
        """Kernel arguments: device pointers for memory, NumPy scalars of the register type
        (float32 for float16 and bfloat16) for scalars."""
        bound: list[Any] = []
        for param, arg in zip(program.params, args, strict=True):
            if param.kind is ParamKind.SCALAR:
                bound.append(np.float32(arg) if param.dtype in _NARROW else arg)
            else:
                bound.append(np.uint64(arg.data.ptr))
        return tuple(bound)


class _BoundLaunch:
    """One kernel launch with its arguments ready; keeps the arrays they point into alive."""

    __slots__ = ("block", "bound", "function", "grid", "keep", "shared")

    def __init__(
        self,
        function: Any,
        grid: tuple[int, ...],
        block: tuple[int, ...],
        bound: tuple,
        kernel: CudaKernel,
        keep: list,
    ) -> None:
        self.function, self.bound, self.keep = function, bound, keep
        self.grid, self.block, self.shared = grid, block, kernel.source.shared_bytes

    def __call__(self) -> None:
        self.function(self.grid, self.block, self.bound, shared_mem=self.shared)


class CudaGraph:
    """A captured CUDA graph and the memory its work allocated during capture."""

    __slots__ = ("_graph", "_keep", "_stream")

    def __init__(self, graph: Any, keep: list[Any], stream: Any) -> None:
        self._graph, self._keep, self._stream = graph, keep, stream

    def replay(self) -> None:
        """Launch the whole graph on the current stream (after what is queued there)."""
        self._graph.launch()


BACKEND = CudaBackend
