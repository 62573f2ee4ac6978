"""`Pool`: a fixed-size piece of backend memory, and streaming any input through it.

A pool is bound to `pool<T>` program parameters, which read and write it with `pool_ld` and
`pool_st`. `Pool.stream` pushes an input of any length through the pool chunk by chunk, one
launch per chunk, so device memory stays constant however long the input is:

    b = Builder("affine")
    pool = b.pool("pool", "f32")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.pool_st(pool, i, b.add(b.mul(b.pool_ld(pool, i), 2.0), 1.0))
    out = ex.pool(12_288).map(values, b.build())   # values * 2 + 1, of any length
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.errors import AllocationError, LaunchError, PoolExhaustedError
from hologram.isa.dtypes import DType
from hologram.isa.program import LaunchConfig, ParamKind, Program
from hologram.memory.buffer import cast_to

if TYPE_CHECKING:
    from hologram.backends.base import Backend
    from hologram.runtime.executor import Executor


class Pool:
    """A fixed-size pool of `size` bytes, allocated once with `backend.allocate_pool`.

    Made by `Executor.pool(nbytes)`. Reads and writes past its end raise PoolExhaustedError.
    """

    def __init__(self, executor: Executor, nbytes: int) -> None:
        try:
            size = operator.index(nbytes)
        except TypeError:
            raise AllocationError(f"a pool size must be an integer, got {nbytes!r}") from None
        if size < 1:
            raise AllocationError(f"a pool needs at least 1 byte, got {size}")
        self._executor = executor
        self._size = size
        self._handle: Any = executor.backend.allocate_pool(size)
        self._freed = False

    @property
    def size(self) -> int:
        """The pool's size in bytes."""
        return self._size

    @property
    def executor(self) -> Executor:
        return self._executor

    @property
    def backend(self) -> Backend:
        return self._executor.backend

    @property
    def is_freed(self) -> bool:
        return self._freed

    def __repr__(self) -> str:
        state = " freed" if self._freed else ""
        return f"<Pool size={self._size} backend={self.backend.name}{state}>"

    def native(self) -> Any:
        """The backend's pool handle: what a launch passes for a pool parameter."""
        if self._freed:
            raise AllocationError(f"pool of {self._size} bytes was freed")
        return self._handle

    def _check_range(self, offset: int, nbytes: int, what: str) -> None:
        if offset < 0 or offset + nbytes > self._size:
            raise PoolExhaustedError(
                f"pool of {self._size} bytes: {what} of {nbytes} bytes at offset {offset} "
                f"needs bytes {offset}..{offset + nbytes}"
            )

    def write(self, data: Any, offset: int = 0) -> int:
        """Copy the bytes of `data` (an array-like) into the pool at byte `offset`.

        Returns the offset just past the written bytes.
        """
        handle = self.native()
        array = np.ascontiguousarray(data)
        self._check_range(offset, array.nbytes, "a write")
        self.backend.copy_to_pool(handle, array, offset)
        return offset + array.nbytes

    def read(self, count: int, dtype: DType | str | np.dtype = "u8", offset: int = 0) -> np.ndarray:
        """A copy of `count` elements of `dtype` from byte `offset` (u8: `count` is bytes)."""
        handle = self.native()
        dt = DType.of(dtype)
        if count < 0:
            raise PoolExhaustedError(f"cannot read {count} elements from a pool")
        nbytes = count * dt.itemsize
        self._check_range(offset, nbytes, "a read")
        return self.backend.copy_from_pool(handle, nbytes, offset).view(dt.numpy)

    def free(self) -> None:
        """Release the pool; freeing twice raises AllocationError."""
        if self._freed:
            raise AllocationError(f"double free of a pool of {self._size} bytes")
        self._freed = True
        self.backend.free_pool(self._handle)
        self._handle = None

    # ------------------------------------------------------------ streaming
    def stream(
        self,
        source: np.ndarray | Iterable[Any],
        program: Program,
        *,
        count_param: str | None = "n",
        extra_args: Mapping[str, Any] | None = None,
        chunk_elems: int | None = None,
        block: int = 256,
    ) -> Iterator[np.ndarray]:
        """Run `program` over `source` chunk by chunk through this pool; yield each result.

        `source` is one array or an iterable of arrays, of any total length; each is flattened
        and cut into chunks of at most `chunk_elems` elements (default: as many as fit in the
        pool). For every chunk the elements are written at the start of the pool, `program`
        is launched with one lane per element, and the chunk's first elements are read back.

        Parameters are bound by kind and name: every `pool` parameter gets this pool, the
        scalar parameter named `count_param` gets the chunk's element count, and every other
        parameter takes its value from `extra_args` by name. The pool parameter's dtype is the
        element type; inputs are cast to it within their kind (float64 to float32, not float
        to int). Only one chunk is in device memory at a time.
        """
        plan = _StreamPlan(self, program, count_param, extra_args or {}, chunk_elems, block)
        return plan.run(source)

    def map(
        self,
        source: np.ndarray | Iterable[Any],
        program: Program,
        **options: Any,
    ) -> np.ndarray:
        """`stream` with every chunk's result joined into one flat array."""
        chunks = list(self.stream(source, program, **options))
        if not chunks:
            return np.empty(0, dtype=_pool_dtype(program).numpy)
        return np.concatenate(chunks)


def _pool_dtype(program: Program) -> DType:
    for param in program.params:
        if param.kind is ParamKind.POOL:
            return param.dtype
    raise LaunchError(f"program {program.name!r} has no pool parameter to stream through")


class _StreamPlan:
    """The checked binding of a program's parameters for streaming through one pool."""

    def __init__(
        self,
        pool: Pool,
        program: Program,
        count_param: str | None,
        extra_args: Mapping[str, Any],
        chunk_elems: int | None,
        block: int,
    ) -> None:
        if not isinstance(program, Program):
            raise LaunchError(f"expected a Program to stream with, got {type(program).__name__}")
        self.pool = pool
        self.program = program
        self.dtype = _pool_dtype(program)
        self.block = block
        self.chunk_elems = self._chunk_size(chunk_elems)
        self.template, self.count_index = self._bind(count_param, extra_args)
        LaunchConfig(1, block)  # reject a bad block size before the first chunk

    def _chunk_size(self, chunk_elems: int | None) -> int:
        capacity = self.pool.size // self.dtype.itemsize
        if capacity == 0:
            raise PoolExhaustedError(
                f"pool of {self.pool.size} bytes cannot hold one {self.dtype} element"
            )
        if chunk_elems is None:
            return capacity
        if chunk_elems < 1:
            raise LaunchError(f"chunk_elems must be at least 1, got {chunk_elems}")
        if chunk_elems > capacity:
            raise PoolExhaustedError(
                f"pool of {self.pool.size} bytes holds {capacity} {self.dtype} elements, "
                f"chunk_elems={chunk_elems} asks for {chunk_elems * self.dtype.itemsize} bytes"
            )
        return chunk_elems

    def _bind(self, count_param: str | None, extra: Mapping[str, Any]) -> tuple[list, int]:
        program = self.program
        names = {p.name for p in program.params}
        unknown = sorted(set(extra) - names)
        if unknown:
            raise LaunchError(f"program {program.name!r} has no parameters {unknown}")
        if count_param is not None and count_param not in names:
            raise LaunchError(
                f"program {program.name!r} has no scalar parameter {count_param!r} for the "
                "chunk length; name it with count_param= (or pass count_param=None)"
            )
        template: list[Any] = []
        count_index = -1
        for index, param in enumerate(program.params):
            if param.kind is ParamKind.POOL and param.name not in extra:
                template.append(self.pool)
            elif param.name == count_param:
                if param.kind is not ParamKind.SCALAR:
                    raise LaunchError(f"count parameter {count_param!r} is not a scalar")
                template.append(None)
                count_index = index
            elif param.name in extra:
                template.append(extra[param.name])
            else:
                raise LaunchError(
                    f"streaming {program.name!r}: no value for parameter {param.name!r}; "
                    "pass it in extra_args"
                )
        return template, count_index

    def run(self, source: np.ndarray | Iterable[Any]) -> Iterator[np.ndarray]:
        pieces = [source] if isinstance(source, np.ndarray) else source
        for piece in pieces:
            flat = cast_to(np.asarray(piece).reshape(-1), self.dtype, "stream input")
            for start in range(0, flat.size, self.chunk_elems):
                yield self._run_chunk(flat[start : start + self.chunk_elems])

    def _run_chunk(self, chunk: np.ndarray) -> np.ndarray:
        count = chunk.size
        self.pool.write(chunk)
        args = list(self.template)
        if self.count_index >= 0:
            args[self.count_index] = count
        config = LaunchConfig.for_elements(count, self.block)
        self.pool.executor.launch(self.program, config, args=args)
        return self.pool.read(count, self.dtype)
