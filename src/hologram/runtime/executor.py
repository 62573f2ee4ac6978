"""`Executor`: one backend, its memory (buffers, the class allocator, pools) and launches.

ex = Executor("cpu")
x = ex.from_numpy(np.arange(1024, dtype=np.float32))   # zero copy on host backends
y = ex.zeros(1024, "f32")
ex.launch(program, grid=4, block=256, args=[x, y, 1024])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from hologram.backends import get_backend
from hologram.backends.base import Backend
from hologram.errors import DTypeError, LaunchError
from hologram.isa.dtypes import DType
from hologram.isa.program import LaunchConfig, Param, ParamKind, Program
from hologram.memory.buffer import Buffer, ShapeLike, normalize_shape
from hologram.memory.classes import Allocation, ClassAllocator
from hologram.memory.pool import Pool

DTypeLike = DType | str | np.dtype | type


class Executor:
    """Runs ISA programs on one backend and owns the memory they work on.

    `backend` is a backend name (`"auto"`, `"reference"`, `"cpu"`, ...) or a Backend instance;
    None takes `settings().backend`. Executors of the same backend name share one backend
    instance, and each has its own class allocator (its own boundary pool).
    """

    def __init__(self, backend: str | Backend | None = None) -> None:
        if isinstance(backend, Backend):
            self._backend = backend
        else:
            if backend is None:
                from hologram.config import settings

                backend = settings().backend
            self._backend = get_backend(backend)
        self._allocator = ClassAllocator(self._backend)
        self._launchers: dict[int, _Launcher] = {}
        self._constants: dict[int, tuple[np.ndarray, Buffer]] = {}
        self._constant_buffers: dict[int, Buffer] = {}
        self._plans: dict[Any, Any] = {}

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def backend_name(self) -> str:
        """The resolved backend name, e.g. `cpu` for `auto`."""
        return self._backend.name

    @property
    def allocator(self) -> ClassAllocator:
        """The class allocator that small buffers come from."""
        return self._allocator

    @property
    def plans(self) -> dict[Any, Any]:
        """What the ops have planned on this executor, by what decides each plan (an op, its
        inputs' dtypes and shapes): it lives and dies with the executor."""
        return self._plans

    def __repr__(self) -> str:
        return f"<Executor backend={self.backend_name}>"

    # ------------------------------------------------------------ memory
    def allocate(self, shape: ShapeLike, dtype: DTypeLike) -> Buffer:
        """A buffer with uninitialised contents: class-backed when small, else class-free."""
        dims = normalize_shape(shape)
        dt = DType.of(dtype)
        allocation = self._allocator.allocate(math.prod(dims) * dt.itemsize)
        return Buffer(self, allocation, dims, dt)

    def allocate_kept(self, shape: ShapeLike, dtype: DTypeLike) -> Buffer:
        """`allocate` for a buffer kept long (a planned op's scratch memory): never from the
        class system, whose few classes serve short-lived small buffers."""
        dims = normalize_shape(shape)
        dt = DType.of(dtype)
        allocation = self._allocator.allocate_class_free(math.prod(dims) * dt.itemsize)
        return Buffer(self, allocation, dims, dt)

    def empty(self, shape: ShapeLike, dtype: DTypeLike) -> Buffer:
        """The same as `allocate` (NumPy's name)."""
        return self.allocate(shape, dtype)

    def zeros(self, shape: ShapeLike, dtype: DTypeLike) -> Buffer:
        """A zero-filled buffer."""
        return self.allocate(shape, dtype).fill(0)

    def full(self, shape: ShapeLike, value: int | float | bool, dtype: DTypeLike) -> Buffer:
        """A buffer with every element set to `value`."""
        return self.allocate(shape, dtype).fill(value)

    def from_numpy(self, array: Any) -> Buffer:
        """A buffer holding `array`.

        On host backends a C-contiguous, aligned, native-byte-order array is wrapped without a
        copy: the buffer and the array share memory, and kernel writes land in the array.
        Other arrays (and every array on device backends) are copied into a new buffer.
        """
        array = np.asarray(array)
        dtype = dtype_of_array(array)
        zero_copy = array.flags.c_contiguous and array.flags.aligned and array.dtype.isnative
        if self._backend.is_host and zero_copy:
            raw = array.reshape(-1).view(np.uint8)
            allocation = Allocation.borrowed(raw, raw.nbytes)
            return Buffer(self, allocation, array.shape, dtype, array.flags.writeable)
        return self.allocate(array.shape, dtype).copy_from(array)

    def constant(self, array: np.ndarray) -> Buffer:
        """A buffer holding a read-only array, made once per array and executor.

        For small tables that launches read again and again (on device backends, uploaded
        once instead of at every launch). The array must be read-only (so its contents never
        change) and is kept alive with its buffer.
        """
        if array.flags.writeable:
            raise LaunchError("constant() takes a read-only array (its contents may not change)")
        entry = self._constants.get(id(array))
        if entry is not None and entry[0] is array:
            return entry[1]
        buffer = self.from_numpy(array)
        if len(self._constants) >= _MAX_CACHED_PROGRAMS:
            self._constants.clear()
            self._constant_buffers.clear()
        self._constants[id(array)] = (array, buffer)
        self._constant_buffers[id(buffer)] = buffer
        return buffer

    def is_constant(self, buffer: Buffer) -> bool:
        """Whether `buffer` is one that `constant` made (and still holds)."""
        return self._constant_buffers.get(id(buffer)) is buffer

    def pool(self, nbytes: int) -> Pool:
        """A fixed-size pool of `nbytes` for `pool` parameters and streaming."""
        return Pool(self, nbytes)

    def stats(self) -> dict[str, Any]:
        """The class allocator's statistics (see `ClassAllocator.stats`)."""
        return self._allocator.stats()

    # ------------------------------------------------------------ compute
    def compile(self, program: Program) -> Any:
        """Compile `program` ahead of its first launch (launches compile on demand too)."""
        return self._backend.compile(program)

    def launch(
        self,
        program: Program | Any,
        grid: int | Iterable[int] | LaunchConfig = 1,
        block: int | Iterable[int] = 1,
        args: Sequence[Any] = (),
    ) -> None:
        """Run `program` over `grid` blocks of `block` lanes (or one LaunchConfig as `grid`).

        `program` may also be a `@hg.kernel`: `args` are then the kernel's arguments, Const
        ones included, and the launch runs the kernel's specialisation for them.

        `args` holds one value per program parameter, in order: a Buffer or NumPy array for a
        buffer parameter (arrays are wrapped with `from_numpy`; when that copies, writable
        parameters are copied back into the array afterwards), a number for a scalar
        parameter, a Pool for a pool parameter.
        """
        if not isinstance(program, Program):
            program_for = getattr(program, "program_for", None)
            if program_for is None:
                raise LaunchError(f"expected a Program or a kernel, got {type(program).__name__}")
            program, args = program_for(list(args))
        if isinstance(grid, LaunchConfig):
            if block != 1:
                raise LaunchError("pass either a LaunchConfig or grid and block, not both")
            config = grid
        else:
            config = LaunchConfig(grid, block)
        args = list(args)
        if len(args) != len(program.params):
            names = ", ".join(p.name for p in program.params)
            raise LaunchError(
                f"program {program.name!r} takes {len(program.params)} arguments ({names}), "
                f"got {len(args)}"
            )
        launcher = self._launcher(program)
        natives = launcher.natives(args)
        if natives is not None:
            launcher.launch(config, natives)
            return
        binding = _Binding(self, program)
        try:
            natives = [
                binding.bind(param, arg) for param, arg in zip(program.params, args, strict=True)
            ]
            self._backend.launch(program, config, natives)
            binding.write_back()
        finally:
            binding.release()

    def bind(
        self, program: Program, config: LaunchConfig, args: Sequence[Any]
    ) -> Callable[[], None]:
        """A call that launches `program` over `config` with `args`, checked and bound once.

        For work launched again and again on the same memory (a prepared op). Arguments that
        need a copy (a NumPy array on a device backend) cannot be bound: the call then
        launches through `launch` each time, which copies them. A bound Buffer freed later
        makes the call raise, as `launch` would.
        """
        args = list(args)
        launcher = self._launcher(program)
        natives = launcher.natives(args) if len(args) == len(program.params) else None
        if natives is None:
            return functools.partial(self.launch, program, config, args=args)
        bound = self._backend.bind_launch(program, config, natives)
        allocations = tuple(a.allocation for a in args if isinstance(a, Buffer))
        pools = tuple(a for a in args if isinstance(a, Pool))
        if not allocations and not pools:
            return bound

        def launch() -> None:
            if any(a.freed for a in allocations) or any(p.is_freed for p in pools):
                self.launch(program, config, args=args)  # raises, naming the freed memory
                return
            bound()

        return launch

    def bind_open(
        self, program: Program, config: LaunchConfig, args: Sequence[Any], slots: Sequence[int]
    ) -> Callable[..., None]:
        """A call that launches `program` over `config` with `args`, checked and bound once,
        but for the buffer parameters at `slots`, whose values each call passes in order.

        For work launched again and again on other memory of the same kinds (a planned op):
        a call checks and converts only its own values. What `args` holds at `slots` is used
        for the one check and not kept. Values that need a copy or a diagnosis (a NumPy array
        on a device backend, a freed or wrong Buffer) go through `launch`, which copies them
        or raises as it would.
        """
        slots = tuple(slots)
        launcher = self._launcher(program)
        args = list(args)
        natives = launcher.natives(args) if len(args) == len(program.params) else None
        open_specs = tuple(launcher.specs[i] for i in slots)
        for i in slots:
            args[i] = None  # not kept: a bound launch must not keep one call's memory alive

        def general(*values: Any) -> None:
            call = list(args)
            for position, value in zip(slots, values, strict=True):
                call[position] = value
            self.launch(program, config, args=call)

        if (
            natives is None
            or not launcher.bufferable
            or any(code != _BUFFER for code, *_ in open_specs)
        ):
            return general
        for i in slots:
            natives[i] = None
        bound = self._backend.bind_slotted_launch(program, config, natives, slots)
        backend, host = self._backend, self._backend.is_host
        specs = tuple(spec[1:] for spec in open_specs)

        def launch(*values: Any) -> None:
            converted = []
            for value, (np_dtype, dtype, written) in zip(values, specs, strict=True):
                native = _native_memory(value, backend, host, np_dtype, dtype, written)
                if native is None:
                    general(*values)
                    return
                converted.append(native)
            bound(*converted)

        return launch

    def _launcher(self, program: Program) -> _Launcher:
        launcher = self._launchers.get(id(program))
        if launcher is None or launcher.program is not program:
            if len(self._launchers) >= _MAX_CACHED_PROGRAMS:
                self._launchers.clear()
            launcher = _Launcher(self._backend, program)
            self._launchers[id(program)] = launcher
        return launcher

    def synchronize(self) -> None:
        """Wait for all launched work to finish."""
        self._backend.synchronize()


def dtype_of_array(array: np.ndarray) -> DType:
    """The ISA dtype of an array, whatever its byte order."""
    return DType.of(array.dtype.newbyteorder("="))


_MAX_CACHED_PROGRAMS = 1024
_MAX_BOUND_PER_PROGRAM = 64
_Spec = tuple[int, Any, DType, bool]
_SCALAR, _BUFFER, _POOL = 0, 1, 2
_KIND_CODES = {ParamKind.SCALAR: _SCALAR, ParamKind.BUFFER: _BUFFER, ParamKind.POOL: _POOL}


class _Launcher:
    """The launches of one program on one executor: its parameters' specs, read once, and the
    backend's bound launches, one per (config, scalar arguments) seen more than once.

    A bound launch leaves every buffer parameter open and fixes the scalars, so a launch of
    the same shape again costs the conversion of its buffers and one call: the checks of the
    scalars, the kernel lookup and the binding were done when it was bound.
    """

    __slots__ = ("backend", "bound", "bufferable", "memory", "program", "scalars", "seen", "specs")

    def __init__(self, backend: Backend, program: Program) -> None:
        self.backend = backend
        self.program = program
        params = program.params
        self.specs: tuple[_Spec, ...] = tuple(
            (_KIND_CODES[p.kind], p.dtype.numpy, p.dtype, p.access.can_write) for p in params
        )
        self.memory = tuple(i for i, p in enumerate(params) if p.kind is not ParamKind.SCALAR)
        self.scalars = tuple(i for i, p in enumerate(params) if p.kind is ParamKind.SCALAR)
        # Backends bind open buffer parameters tightly; pools they re-check every call.
        self.bufferable = all(p.kind is not ParamKind.POOL for p in params)
        self.bound: dict[tuple, Callable[..., None]] = {}
        self.seen: set[tuple] = set()

    def natives(self, args: list[Any]) -> list[Any] | None:
        """The native arguments, when every argument passes without a copy or a diagnosis.

        Arrays of the parameter's exact dtype that `from_numpy` would wrap without a copy
        (host backends) pass as 1-D views; live Buffers and Pools of this backend pass their
        native views; Python numbers and NumPy scalars of the parameter's type pass as they
        are. Anything else returns None, and the general binding (which copies, or raises the
        precise error) takes over.
        """
        backend = self.backend
        host = backend.is_host
        natives: list[Any] = []
        append = natives.append
        for (code, np_dtype, dtype, written), arg in zip(self.specs, args, strict=True):
            if code == _SCALAR:
                kind = type(arg)
                if kind is not int and kind is not float and kind is not np_dtype.type:
                    return None
                append(arg)
            elif code == _BUFFER:
                native = _native_memory(arg, backend, host, np_dtype, dtype, written)
                if native is None:
                    return None
                append(native)
            elif isinstance(arg, Pool) and arg.backend is backend:
                append(arg.native())
            else:
                return None
        return natives

    def launch(self, config: LaunchConfig, natives: list[Any]) -> None:
        """Launch over `config` with converted `natives`, through a bound launch when this
        (config, scalars) was launched before."""
        if not self.bufferable:
            self.backend.launch(self.program, config, natives)
            return
        memory = self.memory
        key = (config.grid, config.block, *[_scalar_key(natives[i]) for i in self.scalars])
        bound = self.bound.get(key)
        if bound is not None:
            bound(*[natives[i] for i in memory])
            return
        if key not in self.seen:
            # Bind only what repeats: a one-off launch would pay for the binding for nothing.
            if len(self.seen) >= _MAX_BOUND_PER_PROGRAM:
                self.seen.clear()
            self.seen.add(key)
            self.backend.launch(self.program, config, natives)
            return
        template = list(natives)
        for i in memory:
            template[i] = None  # open: a bound launch must not keep this call's memory alive
        bound = self.backend.bind_slotted_launch(self.program, config, template, memory)
        if len(self.bound) >= _MAX_BOUND_PER_PROGRAM:
            self.bound.clear()
        self.bound[key] = bound
        bound(*[natives[i] for i in memory])


def _native_memory(
    arg: Any, backend: Backend, host: bool, np_dtype: Any, dtype: DType, written: bool
) -> Any:
    """The native view of a buffer argument that passes without a copy or a diagnosis: an
    array of the exact dtype that `from_numpy` would wrap (host backends), or a live Buffer
    of this backend; else None."""
    if type(arg) is np.ndarray:
        flags = arg.flags
        # carray: C-contiguous, aligned and writeable.
        usable = flags.carray if written else flags.c_contiguous and flags.aligned
        if not (host and usable and arg.dtype == np_dtype):
            return None
        return arg if arg.ndim == 1 else arg.reshape(-1)
    if (
        isinstance(arg, Buffer)
        and arg.backend is backend
        and arg.dtype is dtype
        and (arg.writeable or not written)
    ):
        return arg.native()
    return None


def _scalar_key(value: Any) -> Any:
    """A scalar argument as an exact cache key: floats by their bits (0.0 == -0.0, and a NumPy
    float equals the int of its value, but a kernel may tell them apart)."""
    kind = type(value)
    if kind is int:
        return value
    if kind is float:
        return value.hex()
    return kind, value.tobytes()


class _Binding:
    """Turns the arguments of one launch into native objects, and cleans up after it."""

    def __init__(self, executor: Executor, program: Program) -> None:
        self.executor = executor
        self.program = program
        self.copies: list[tuple[np.ndarray, Buffer]] = []
        self.temporaries: list[Buffer] = []

    def _where(self, param: Param) -> str:
        return f"{param.kind.value} parameter {param.name!r} of program {self.program.name!r}"

    def bind(self, param: Param, arg: Any) -> Any:
        if param.kind is ParamKind.BUFFER:
            return self._bind_buffer(param, arg)
        if param.kind is ParamKind.POOL:
            if not isinstance(arg, Pool):
                raise LaunchError(f"{self._where(param)} needs a Pool, got {type(arg).__name__}")
            self._check_backend(param, arg.backend)
            return arg.native()
        if isinstance(arg, (Buffer, Pool)) or (isinstance(arg, np.ndarray) and arg.ndim > 0):
            raise LaunchError(f"{self._where(param)} needs a number, got {type(arg).__name__}")
        return arg

    def _bind_buffer(self, param: Param, arg: Any) -> Any:
        if isinstance(arg, np.ndarray):
            return self._bind_array(param, arg)
        if not isinstance(arg, Buffer):
            raise LaunchError(f"{self._where(param)} needs a Buffer or a NumPy array, got {arg!r}")
        self._check_backend(param, arg.backend)
        self._check_dtype(param, arg.dtype, "a Buffer")
        if param.access.can_write and not arg.writeable:
            raise LaunchError(f"{self._where(param)} is written, but its buffer is read-only")
        return arg.native()

    def _bind_array(self, param: Param, array: np.ndarray) -> Any:
        try:
            dtype = dtype_of_array(array)
        except DTypeError:
            raise DTypeError(
                f"{self._where(param)} is {param.dtype}, got an array of {array.dtype}"
            ) from None
        self._check_dtype(param, dtype, "an array")
        if param.access.can_write and not array.flags.writeable:
            raise LaunchError(f"{self._where(param)} is written, but its array is read-only")
        buffer = self.executor.from_numpy(array)
        if not buffer.allocation.is_borrowed:
            self.temporaries.append(buffer)
            if param.access.can_write:
                self.copies.append((array, buffer))
        return buffer.native()

    def _check_dtype(self, param: Param, dtype: DType, what: str) -> None:
        if dtype is not param.dtype:
            raise DTypeError(f"{self._where(param)} is {param.dtype}, got {what} of {dtype}")

    def _check_backend(self, param: Param, backend: Backend) -> None:
        if backend is not self.executor.backend:
            raise LaunchError(
                f"{self._where(param)} lives on backend {backend.name!r}, "
                f"not {self.executor.backend_name!r}"
            )

    def write_back(self) -> None:
        """Copy the results of writable parameters into arrays that were copied in."""
        if not self.copies:
            return
        self.executor.synchronize()
        for array, buffer in self.copies:
            array[...] = buffer.to_numpy()

    def release(self) -> None:
        for buffer in self.temporaries:
            buffer.free()
