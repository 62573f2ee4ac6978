"""Operands of the standard ops: executor choice, input normalisation, dtype promotion, outputs.

An op accepts Buffers, NumPy arrays, array-likes and Python numbers. Each becomes an `Operand`
holding what a launch takes for it: the Buffer itself, or (on host backends) a C-contiguous
NumPy array that the launch wraps without a copy. Non-contiguous arrays are copied once to be
contiguous; on device backends arrays are uploaded once, so an op of several launches does not
copy them again.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.errors import DTypeError, LaunchError, ShapeError
from hologram.isa.dtypes import FLOAT_TYPES, NUMERIC_TYPES, DType

if TYPE_CHECKING:
    from hologram.memory.buffer import Buffer
    from hologram.runtime.executor import Executor

MAX_ELEMENTS = 2**32 - 1
"""The most elements one op handles: lane indices are u32 registers."""

_default_executor: Executor | None = None
_default_lock = threading.Lock()


def default_executor() -> Executor:
    """The process-wide executor the ops use when given none (made on first use)."""
    global _default_executor
    if _default_executor is not None:
        return _default_executor  # made once and never replaced: no lock needed to read it
    with _default_lock:
        if _default_executor is None:
            from hologram.config import settings
            from hologram.runtime.executor import Executor

            _default_executor = Executor(backend=settings().backend)
        return _default_executor


_buffer_class: type | None = None


def is_buffer(value: object) -> bool:
    """True for a hologram Buffer."""
    global _buffer_class
    if _buffer_class is None:
        # Imported on first use, so that importing hologram.ops stays light.
        from hologram.memory.buffer import Buffer

        _buffer_class = Buffer
    return isinstance(value, _buffer_class)


@cache
def _dtype_of_numpy(np_dtype: np.dtype) -> DType | None:
    try:
        return DType.of(np_dtype.newbyteorder("="))
    except DTypeError:
        return None


def is_weak_scalar(value: object) -> bool:
    """True for a Python int or float, whose dtype yields to the other operands (NumPy 2)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def resolve_executor(values: Sequence[object], executor: Executor | None, op: str) -> Executor:
    """The executor an op runs on: `executor`, else the inputs' own, else the default."""
    buffers = [v for v in values if is_buffer(v)]
    if executor is None:
        executor = buffers[0].executor if buffers else default_executor()
    for buf in buffers:
        if buf.backend is not executor.backend:
            raise LaunchError(
                f"{op}: an input Buffer lives on backend {buf.backend.name!r}, "
                f"but the op runs on {executor.backend_name!r}"
            )
    return executor


@dataclass(frozen=True)
class Operand:
    """One normalised input: its launch argument, logical shape and dtype."""

    data: Any
    """A Buffer, or a C-contiguous NumPy array (host backends only)."""
    shape: tuple[int, ...]
    dtype: DType

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def on_host(self) -> bool:
        """True when `data` is a NumPy array."""
        return isinstance(self.data, np.ndarray)

    @cached_property
    def arg(self) -> Any:
        """What a launch takes for this operand's 1-D buffer parameter (one object per
        operand, so that a plan can tell which launch argument it is)."""
        return self.data.reshape(-1) if self.on_host else self.data


def dtype_of_value(value: object, op: str) -> DType | None:
    """The ISA dtype of an input, or None for a weak Python number."""
    if is_weak_scalar(value):
        return None
    if isinstance(value, bool):
        raise DTypeError(f"{op}: bool inputs are not supported")
    if is_buffer(value):
        dtype = value.dtype  # type: ignore[attr-defined]
    else:
        np_dtype = value.dtype if isinstance(value, np.ndarray) else np.asarray(value).dtype
        found = _dtype_of_numpy(np_dtype)
        if found is None:
            raise DTypeError(f"{op}: inputs of dtype {np_dtype} are not supported")
        dtype = found
    if dtype.is_bool:
        raise DTypeError(f"{op}: bool inputs are not supported")
    return dtype


def promote(values: Sequence[object], op: str, float_only: bool = False) -> DType:
    """NumPy's result_type of the inputs (Python numbers are weak), checked for the op."""
    first = values[0] if values else None
    if type(first) is np.ndarray and all(
        type(v) is np.ndarray and v.dtype == first.dtype for v in values
    ):
        # Arrays of one dtype promote to it: skip result_type (the common, hot case).
        found = dtype_of_value(first, op)
        if found is not None:
            return check_dtype(found, op, float_only)
    strong = [d for d in (dtype_of_value(v, op) for v in values) if d is not None]
    weak = [v for v in values if is_weak_scalar(v)]
    try:
        result = np.result_type(*(d.numpy for d in strong), *weak)
        dtype = DType.of(result)
    except (TypeError, DTypeError):
        names = ", ".join(str(d) for d in strong) or "Python numbers"
        raise DTypeError(f"{op}: no common dtype for inputs of {names}") from None
    return check_dtype(dtype, op, float_only)


def check_dtype(dtype: DType, op: str, float_only: bool = False) -> DType:
    """`dtype` if the op supports it, else DTypeError."""
    allowed = FLOAT_TYPES if float_only else NUMERIC_TYPES
    if dtype not in allowed:
        kind = "floating-point (f16, bf16, f32, f64)" if float_only else "numeric"
        raise DTypeError(f"{op} needs {kind} inputs, got {dtype}")
    return dtype


def to_operand(value: object, executor: Executor, op: str, dtype: DType | None = None) -> Operand:
    """Normalise one input; `dtype` gives Python numbers (and only them) their dtype."""
    host = executor.backend.is_host
    if host and type(value) is np.ndarray and value.ndim and value.flags.c_contiguous:
        found = _dtype_of_numpy(value.dtype) if value.dtype.isnative else None
        if found is not None and not found.is_bool:
            # Already what a launch takes: no copy, no new view.
            return Operand(value, value.shape, found)
    if is_buffer(value):
        buf: Buffer = value  # type: ignore[assignment]
        return Operand(buf, buf.shape, buf.dtype)
    if is_weak_scalar(value):
        if dtype is None:
            raise DTypeError(f"{op}: a Python number needs a dtype from another input")
        try:
            array = np.asarray(value, dtype=dtype.numpy)
        except OverflowError:
            raise DTypeError(f"{op}: {value!r} does not fit in {dtype}") from None
    else:
        array = np.asarray(value)
    shape = array.shape
    source_dtype = dtype_of_value(array, op) or DType.of(array.dtype)
    contiguous = np.ascontiguousarray(array)
    if not contiguous.dtype.isnative:
        contiguous = contiguous.astype(contiguous.dtype.newbyteorder("="))
    if executor.backend.is_host:
        return Operand(contiguous.reshape(shape), shape, source_dtype)
    return Operand(executor.from_numpy(contiguous.reshape(shape)), shape, source_dtype)


def check_size(shape: tuple[int, ...], op: str) -> int:
    """The element count of `shape`, which must fit the ops' u32 indexing."""
    size = math.prod(shape)
    if size > MAX_ELEMENTS:
        raise ShapeError(f"{op}: {size} elements {shape} exceed the limit of {MAX_ELEMENTS}")
    return size


class Output:
    """Where an op writes its result, and what it returns.

    NumPy in, NumPy out: on host backends the kernel writes straight into a new array; on
    device backends into a Buffer that is copied out at the end. Any Buffer input makes the
    result a Buffer. `out=` (a Buffer or a C-contiguous, writeable array of the result's shape
    and dtype) receives the result and is returned.
    """

    def __init__(
        self,
        executor: Executor,
        shape: tuple[int, ...],
        dtype: DType,
        want_buffer: bool,
        out: object = None,
        op: str = "op",
    ) -> None:
        self.shape = shape
        self.dtype = dtype
        self._target: np.ndarray | None = None
        if out is not None:
            self._bind_out(executor, out, op)
        elif want_buffer or not executor.backend.is_host:
            self.data: Any = executor.allocate(shape, dtype)
            self._returns_numpy = not want_buffer
        else:
            self.data = np.empty(shape, dtype.numpy)
            self._returns_numpy = True

    def _bind_out(self, executor: Executor, out: object, op: str) -> None:
        if is_buffer(out):
            buf: Buffer = out  # type: ignore[assignment]
            found_shape, found_dtype = buf.shape, buf.dtype
            if buf.backend is not executor.backend:
                raise LaunchError(f"{op}: out= lives on backend {buf.backend.name!r}")
        elif isinstance(out, np.ndarray):
            found_shape, found_dtype = out.shape, out.dtype
            if not (out.flags.c_contiguous and out.flags.writeable):
                raise ShapeError(f"{op}: out= must be a C-contiguous, writeable array")
        else:
            raise LaunchError(f"{op}: out= must be a Buffer or a NumPy array, got {out!r}")
        if tuple(found_shape) != self.shape:
            raise ShapeError(f"{op}: out= has shape {tuple(found_shape)}, expected {self.shape}")
        if found_dtype != self.dtype and found_dtype != self.dtype.numpy:
            raise DTypeError(f"{op}: out= has dtype {found_dtype}, expected {self.dtype}")
        if isinstance(out, np.ndarray) and not executor.backend.is_host:
            self.data = executor.allocate(self.shape, self.dtype)
            self._target = out
        else:
            self.data = out
        self._returns_numpy = False

    @property
    def arg(self) -> Any:
        """What a launch takes for the output's 1-D buffer parameter."""
        return self.operand.arg

    @cached_property
    def operand(self) -> Operand:
        """The output as an input of a following launch (the same object every time)."""
        return Operand(self.data, self.shape, self.dtype)

    def result(self) -> Any:
        """The op's return value, once its launches have run."""
        if self._target is not None:
            self._target[...] = self.data.to_numpy().reshape(self.shape)
            return self._target
        if self._returns_numpy and not isinstance(self.data, np.ndarray):
            return self.data.to_numpy().reshape(self.shape)
        return self.data
