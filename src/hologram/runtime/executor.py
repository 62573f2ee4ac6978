"""`Executor`: one backend, its memory (buffers, the class allocator, pools) and launches.

ex = Executor("cpu")
x = ex.from_numpy(np.arange(1024, dtype=np.float32))   # zero copy on host backends
y = ex.zeros(1024, "f32")
ex.launch(program, grid=4, block=256, args=[x, y, 1024])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
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

    def __repr__(self) -> str:
        return f"<Executor backend={self.backend_name}>"

    # ------------------------------------------------------------ memory
    def allocate(self, shape: ShapeLike, dtype: DTypeLike) -> Buffer:
        """A buffer with uninitialised contents: class-backed when small, else class-free."""
        dims = normalize_shape(shape)
        dt = DType.of(dtype)
        allocation = self._allocator.allocate(math.prod(dims) * dt.itemsize)
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
        if self._backend.is_host:
            natives = _host_natives(self._backend, program, args)
            if natives is not None:
                self._backend.launch(program, config, natives)
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

    def synchronize(self) -> None:
        """Wait for all launched work to finish."""
        self._backend.synchronize()


def dtype_of_array(array: np.ndarray) -> DType:
    """The ISA dtype of an array, whatever its byte order."""
    return DType.of(array.dtype.newbyteorder("="))


_SpecCache = dict[int, tuple[Program, tuple[tuple[ParamKind, Any, DType, bool], ...]]]
_PARAM_SPECS: _SpecCache = {}
_MAX_CACHED_PROGRAMS = 1024


def _param_specs(program: Program) -> tuple[tuple[ParamKind, Any, DType, bool], ...]:
    """(kind, NumPy dtype, ISA dtype, written) per parameter, cached by program identity.

    Keyed by `id` with the program kept alive in the entry, so a hit is one dict lookup and
    an identity test instead of hashing the whole program.
    """
    entry = _PARAM_SPECS.get(id(program))
    if entry is not None and entry[0] is program:
        return entry[1]
    specs = tuple((p.kind, p.dtype.numpy, p.dtype, p.access.can_write) for p in program.params)
    if len(_PARAM_SPECS) >= _MAX_CACHED_PROGRAMS:
        _PARAM_SPECS.clear()
    _PARAM_SPECS[id(program)] = (program, specs)
    return specs


def _host_natives(backend: Backend, program: Program, args: list[Any]) -> list[Any] | None:
    """The native arguments of a host launch whose arguments need no copy and no diagnosis.

    Arrays of the parameter's exact dtype that `from_numpy` would wrap without a copy pass
    straight through as 1-D views; live Buffers of this backend pass their native view;
    Python numbers pass as they are. Anything else returns None, and the general binding
    (which copies, or raises the precise error) takes over.
    """
    natives: list[Any] = []
    append = natives.append
    for (kind, np_dtype, dtype, written), arg in zip(_param_specs(program), args, strict=True):
        if kind is ParamKind.BUFFER:
            if type(arg) is np.ndarray:
                flags = arg.flags
                if (
                    arg.dtype != np_dtype
                    or not (flags.c_contiguous and flags.aligned)
                    or (written and not flags.writeable)
                ):
                    return None
                append(arg if arg.ndim == 1 else arg.reshape(-1))
            elif (
                isinstance(arg, Buffer)
                and arg.backend is backend
                and arg.dtype is dtype
                and (arg.writeable or not written)
            ):
                append(arg.native())
            else:
                return None
        elif kind is ParamKind.SCALAR and type(arg) in (int, float):
            append(arg)
        elif kind is ParamKind.SCALAR and type(arg) is np_dtype.type:
            append(arg)  # a NumPy scalar of the parameter's exact type
        else:
            return None
    return natives


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
