"""The backend interface: compile and launch programs, manage buffers and pools.

A backend is one file in this package that defines a `Backend` subclass and names it
`BACKEND`; it is found by its file name (`hologram.backends.get_backend("cpu")`).

Launch arguments are native objects, one per program parameter, in order:
- a buffer parameter takes a *typed view* from `Backend.view` (host backends: a 1-D,
  C-contiguous NumPy array of the parameter's dtype);
- a scalar parameter takes a Python or NumPy number;
- a pool parameter takes a handle from `Backend.allocate_pool`.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from hologram.errors import (
    AllocationError,
    DTypeError,
    LaunchError,
    PoolExhaustedError,
    ProgramError,
)
from hologram.isa.dtypes import DType
from hologram.isa.program import LaunchConfig, ParamKind, Program

ALIGNMENT = 64


class Backend(ABC):
    """Compiles ISA programs for one kind of device and runs them on its memory."""

    name: ClassVar[str]
    is_host: ClassVar[bool] = False
    """True when buffers are host memory that NumPy can view without a copy."""

    def __init__(self) -> None:
        self._kernels: dict[str, Any] = {}

    # ------------------------------------------------------------ discovery
    @classmethod
    @abstractmethod
    def availability(cls) -> tuple[bool, str]:
        """(available, reason): whether this backend can run here, and why not."""

    def device_name(self) -> str:
        """A human-readable name of the device this backend runs on."""
        return self.name

    # ------------------------------------------------------------ memory
    @abstractmethod
    def allocate(self, nbytes: int) -> Any:
        """Allocate `nbytes` of device memory and return its handle."""

    @abstractmethod
    def free(self, handle: Any) -> None:
        """Release memory from `allocate`."""

    @abstractmethod
    def copy_in(self, handle: Any, data: np.ndarray, offset: int = 0) -> None:
        """Copy the bytes of `data` into `handle` starting at byte `offset`."""

    @abstractmethod
    def copy_out(self, handle: Any, nbytes: int, offset: int = 0) -> np.ndarray:
        """Copy `nbytes` from byte `offset` of `handle` into a new uint8 array."""

    @abstractmethod
    def view(self, handle: Any, offset: int, count: int, dtype: DType) -> Any:
        """A typed view of `count` elements of `dtype` at byte `offset` (no copy)."""

    @abstractmethod
    def size_of(self, handle: Any) -> int:
        """The size in bytes of an allocation or pool."""

    def copy_device(self, target: Any, source: Any, nbytes: int) -> None:
        """Copy the first `nbytes` of typed view `source` into typed view `target`, within
        the device's memory and in order with the work launched so far."""
        raise NotImplementedError(f"backend {self.name!r} has no device-to-device copy")

    def borrow(self, value: Any) -> tuple[Any, tuple[int, ...], np.dtype] | None:
        """For an array of another library in this backend's memory (on cuda: anything with
        `__cuda_array_interface__`), a byte handle over its memory (contiguous: a strided
        array is copied on the device), its shape and dtype; None for anything else."""
        return None

    # ------------------------------------------------------------ pools
    def allocate_pool(self, nbytes: int) -> Any:
        """Allocate a fixed-size pool of `nbytes`."""
        return self.allocate(nbytes)

    def free_pool(self, pool: Any) -> None:
        """Release a pool."""
        self.free(pool)

    def copy_to_pool(self, pool: Any, data: np.ndarray, offset: int = 0) -> None:
        """Copy `data` into the pool at byte `offset`; raises PoolExhaustedError past its end."""
        self._check_pool_range(pool, offset, data.nbytes)
        self.copy_in(pool, data, offset)

    def copy_from_pool(self, pool: Any, nbytes: int, offset: int = 0) -> np.ndarray:
        """Copy `nbytes` out of the pool from byte `offset`."""
        self._check_pool_range(pool, offset, nbytes)
        return self.copy_out(pool, nbytes, offset)

    def _check_pool_range(self, pool: Any, offset: int, nbytes: int) -> None:
        size = self.size_of(pool)
        if offset < 0 or nbytes < 0 or offset + nbytes > size:
            raise PoolExhaustedError(
                f"pool of {size} bytes cannot hold {nbytes} bytes at offset {offset}"
            )

    # ------------------------------------------------------------ compute
    @abstractmethod
    def _compile(self, program: Program) -> Any:
        """Compile a verified program into this backend's kernel object."""

    @abstractmethod
    def _launch(self, kernel: Any, program: Program, config: LaunchConfig, args: list) -> None:
        """Run a compiled kernel with validated arguments."""

    def compile(self, program: Program) -> Any:
        """Compile `program` (verified first), caching the result by the program's digest."""
        from hologram.isa.verifier import verify

        try:
            digest = program.digest
        except ProgramError:
            # A program too malformed to encode gets the verifier's clearer diagnosis.
            verify(program)
            raise
        kernel = self._kernels.get(digest)
        if kernel is None:
            verify(program)
            kernel = self._compile(program)
            self._kernels[digest] = kernel
        return kernel

    def launch(self, program: Program, config: LaunchConfig, args: Sequence[Any]) -> None:
        """Compile (if needed) and run `program` over `config` with native `args`."""
        if not isinstance(config, LaunchConfig):
            raise LaunchError(f"expected a LaunchConfig, got {type(config).__name__}")
        kernel = self.compile(program)
        self._launch(kernel, program, config, self.check_args(program, args))

    def bind_launch(
        self, program: Program, config: LaunchConfig, args: Sequence[Any]
    ) -> Callable[[], None]:
        """A call that launches `program` over `config` with these native `args`, checked and
        converted once: for plans that launch the same arguments again and again."""
        kernel = self.compile(program)
        checked = self.check_args(program, args)
        return functools.partial(self._launch, kernel, program, config, checked)

    def bind_slotted_launch(
        self, program: Program, config: LaunchConfig, args: Sequence[Any], slots: Sequence[int]
    ) -> Callable[..., None]:
        """`bind_launch` with some arguments left open: the call takes the values of the
        parameters at positions `slots`, in order (what `args` holds there is ignored). For
        plans whose launches read this run's inputs or write its outputs. Backends override
        it to check and convert the fixed arguments once; this one checks every call."""
        slots = tuple(slots)
        if not slots:
            return self.bind_launch(program, config, args)
        kernel = self.compile(program)
        fixed = list(args)

        def launch(*values: Any) -> None:
            call = list(fixed)
            for position, value in zip(slots, values, strict=True):
                call[position] = value
            self._launch(kernel, program, config, self.check_args(program, call))

        return launch

    def synchronize(self) -> None:
        """Wait until all launched work has finished (host backends run synchronously)."""

    def check_args(self, program: Program, args: Sequence[Any]) -> list:
        """Validate launch arguments against the program's parameters; scalars are cast."""
        if len(args) != len(program.params):
            raise LaunchError(
                f"program {program.name!r} takes {len(program.params)} arguments "
                f"({', '.join(p.name for p in program.params)}), got {len(args)}"
            )
        checked = []
        for param, arg in zip(program.params, args, strict=True):
            if param.kind is ParamKind.SCALAR:
                checked.append(_cast_scalar(param.name, param.dtype, arg))
            else:
                self._check_memory_arg(param.name, param.kind, param.dtype, arg)
                checked.append(arg)
        return checked

    def _check_memory_arg(self, name: str, kind: ParamKind, dtype: DType, arg: Any) -> None:
        """Backends override to check their native buffer and pool objects."""


def _cast_scalar(name: str, dtype: DType, value: Any) -> Any:
    if type(value) is float and dtype.is_float:
        # The common case, with nothing to check: a Python float for a float parameter.
        return dtype.numpy.type(value)
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if not isinstance(value, (bool, int, float, np.generic)):
        raise LaunchError(f"scalar parameter {name!r} got {type(value).__name__}, not a number")
    if dtype.is_int:
        if isinstance(value, (float, np.floating)) and not float(value).is_integer():
            raise DTypeError(f"scalar parameter {name!r} is {dtype}, got non-integer {value!r}")
        info = np.iinfo(dtype.numpy)
        if not info.min <= int(value) <= info.max:
            raise DTypeError(f"scalar parameter {name!r}: {value!r} does not fit in {dtype}")
    return dtype.numpy.type(value)


class HostBackend(Backend):
    """Shared memory management for backends whose memory is host RAM (NumPy arrays)."""

    is_host = True

    def allocate(self, nbytes: int) -> np.ndarray:
        if nbytes < 0:
            raise AllocationError(f"cannot allocate {nbytes} bytes")
        try:
            raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
        except MemoryError:
            raise AllocationError(f"out of host memory allocating {nbytes} bytes") from None
        start = (-raw.ctypes.data) % ALIGNMENT
        return raw[start : start + nbytes]

    def free(self, handle: Any) -> None:
        # Host memory is reclaimed by the garbage collector once the last view is gone.
        if not isinstance(handle, np.ndarray):
            raise AllocationError(f"not a {self.name} allocation: {type(handle).__name__}")

    def copy_in(self, handle: np.ndarray, data: np.ndarray, offset: int = 0) -> None:
        handle = _bytes(handle)
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        if offset < 0 or offset + raw.nbytes > handle.nbytes:
            raise AllocationError(
                f"copy of {raw.nbytes} bytes at offset {offset} overruns {handle.nbytes} bytes"
            )
        handle[offset : offset + raw.nbytes] = raw

    def copy_out(self, handle: np.ndarray, nbytes: int, offset: int = 0) -> np.ndarray:
        handle = _bytes(handle)
        if offset < 0 or nbytes < 0 or offset + nbytes > handle.nbytes:
            raise AllocationError(
                f"read of {nbytes} bytes at offset {offset} overruns {handle.nbytes} bytes"
            )
        return handle[offset : offset + nbytes].copy()

    def view(self, handle: np.ndarray, offset: int, count: int, dtype: DType) -> np.ndarray:
        nbytes = count * dtype.itemsize
        if offset < 0 or offset + nbytes > handle.nbytes:
            raise AllocationError(
                f"view of {count} x {dtype} at offset {offset} overruns {handle.nbytes} bytes"
            )
        return handle[offset : offset + nbytes].view(dtype.numpy)

    def size_of(self, handle: np.ndarray) -> int:
        return int(handle.nbytes)

    def copy_device(self, target: np.ndarray, source: np.ndarray, nbytes: int) -> None:
        check_copy(nbytes, target.nbytes, source.nbytes)
        if nbytes:
            target.view(np.uint8)[:nbytes] = source.view(np.uint8)[:nbytes]

    def _check_memory_arg(self, name: str, kind: ParamKind, dtype: DType, arg: Any) -> None:
        if not isinstance(arg, np.ndarray):
            raise LaunchError(f"{kind.value} parameter {name!r} got {type(arg).__name__}")
        if kind is ParamKind.BUFFER and arg.dtype != dtype.numpy:
            raise DTypeError(f"buffer parameter {name!r} is {dtype}, got an array of {arg.dtype}")
        if arg.ndim != 1 or not arg.flags.c_contiguous:
            raise LaunchError(f"{kind.value} parameter {name!r} needs a 1-D contiguous view")


def check_copy(nbytes: int, target: int, source: int) -> None:
    """Raise AllocationError unless `nbytes` fit both the `target` and the `source` bytes."""
    if nbytes < 0 or nbytes > target or nbytes > source:
        raise AllocationError(
            f"copy of {nbytes} bytes from {source} bytes into {target} bytes overruns one"
        )


def _bytes(handle: np.ndarray) -> np.ndarray:
    """A host handle or typed view (as plan runners hold) as its bytes."""
    return handle if handle.dtype == np.uint8 else handle.view(np.uint8)
