"""`Buffer`: a typed, shaped piece of backend memory that NumPy and DLPack can see.

On host backends a buffer is a view: `to_numpy()`, `np.asarray(buf)` and `np.from_dlpack(buf)`
share memory with it, and a buffer made from a C-contiguous array shares memory with that
array. On device backends the NumPy calls copy; a cuda buffer instead exports its device memory
without a copy through `__cuda_array_interface__` (`cupy.asarray(buf)`, `torch.as_tensor(buf,
device="cuda")`, Numba) and DLPack (`cupy.from_dlpack(buf)`, `torch.from_dlpack(buf)`).

NumPy arrays returned by `to_numpy()` keep the buffer's memory reserved for as long as they
live; once the last buffer and view are gone, the memory returns to its allocator. `free()`
returns it at once: views taken earlier then alias memory that may be handed out again.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.errors import AllocationError, DTypeError, HologramError, ShapeError
from hologram.isa.dtypes import DType
from hologram.memory.classes import Allocation

if TYPE_CHECKING:
    from hologram.backends.base import Backend
    from hologram.runtime.executor import Executor

ShapeLike = int | Iterable[int]


def normalize_shape(shape: ShapeLike) -> tuple[int, ...]:
    """`shape` as a tuple of non-negative ints; raises ShapeError otherwise."""
    dims = _parse_dims(shape)
    if any(d < 0 for d in dims):
        raise ShapeError(f"shape dimensions must be non-negative, got {dims}")
    return dims


class _PinnedView:
    """Exposes a view's memory to NumPy while keeping its allocation alive."""

    def __init__(self, view: np.ndarray, allocation: Allocation) -> None:
        self.__array_interface__ = view.__array_interface__
        self._view = view
        self._allocation = allocation


class Buffer:
    """A typed, shaped view of `allocation` starting at its byte offset.

    Made by an `Executor` (`allocate`, `zeros`, `from_numpy`), not directly.
    """

    def __init__(
        self,
        executor: Executor,
        allocation: Allocation,
        shape: ShapeLike,
        dtype: DType | str | np.dtype,
        writeable: bool = True,
    ) -> None:
        self._executor = executor
        self._allocation = allocation
        self._shape = normalize_shape(shape)
        self._dtype = DType.of(dtype)
        self._writeable = writeable
        self._native: Any = None
        if self.nbytes > allocation.nbytes:
            raise AllocationError(
                f"a {self._shape} {self._dtype} buffer needs {self.nbytes} bytes, "
                f"{allocation.describe()} holds {allocation.nbytes}"
            )

    # ------------------------------------------------------------ description
    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> DType:
        return self._dtype

    @property
    def size(self) -> int:
        """The number of elements."""
        return math.prod(self._shape)

    @property
    def nbytes(self) -> int:
        return self.size * self._dtype.itemsize

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def executor(self) -> Executor:
        return self._executor

    @property
    def backend(self) -> Backend:
        return self._executor.backend

    @property
    def allocation(self) -> Allocation:
        """The memory this buffer lives in (shared by its reshaped views)."""
        return self._allocation

    @property
    def handle(self) -> Any:
        """The backend handle of the memory (the boundary pool for class-backed buffers)."""
        return self._live().handle

    @property
    def byte_offset(self) -> int:
        """Where the buffer starts within `handle`, in bytes."""
        return self._allocation.offset

    @property
    def owns_classes(self) -> bool:
        """True when the buffer occupies classes of the executor's boundary pool."""
        return self._allocation.owns_classes

    @property
    def classes(self) -> range | None:
        """The boundary-pool classes the buffer occupies, or None."""
        return self._allocation.classes

    @property
    def writeable(self) -> bool:
        """False for buffers wrapping a read-only array; kernels may not write them."""
        return self._writeable

    @property
    def is_freed(self) -> bool:
        return self._allocation.freed

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d buffer")
        return self._shape[0]

    def __repr__(self) -> str:
        state = " freed" if self.is_freed else ""
        return (
            f"<Buffer shape={self._shape} dtype={self._dtype} backend={self.backend.name}{state}>"
        )

    # ------------------------------------------------------------ access
    def _live(self) -> Allocation:
        if self._allocation.freed:
            raise AllocationError(
                f"buffer of shape {self._shape} and dtype {self._dtype} was freed "
                f"({self._allocation.describe()})"
            )
        return self._allocation

    def native(self) -> Any:
        """The backend's 1-D typed view of the buffer: what a launch passes for it.

        Made once and returned again by later calls (a device view costs microseconds to
        make, and every launch asks for it); it holds no memory the buffer does not.
        """
        allocation = self._live()
        view = self._native
        if view is None:
            view = self.backend.view(allocation.handle, allocation.offset, self.size, self._dtype)
            self._native = view
        return view

    def to_numpy(self) -> np.ndarray:
        """The contents as an array: a view sharing memory on host backends, else a copy."""
        allocation = self._live()
        if self.backend.is_host:
            flat = self.native()
            pinned = np.asarray(_PinnedView(flat, allocation)).view(flat.dtype)
            if not self._writeable:
                pinned.flags.writeable = False
            return pinned.reshape(self._shape)
        raw = self.backend.copy_out(allocation.handle, self.nbytes, allocation.offset)
        return raw.view(self._dtype.numpy).reshape(self._shape)

    def copy_from(self, data: Any) -> Buffer:
        """Copy `data` (any array-like of the same size) into the buffer; returns the buffer."""
        allocation = self._live()
        if not self._writeable:
            raise AllocationError("cannot copy into a buffer that wraps a read-only array")
        array = np.asarray(data)
        if array.size != self.size:
            raise ShapeError(
                f"cannot copy {array.size} elements {array.shape} into a buffer of "
                f"{self.size} elements {self._shape}"
            )
        array = cast_to(array, self._dtype, "copy_from")
        self.backend.copy_in(allocation.handle, array, allocation.offset)
        return self

    def fill(self, value: int | float | bool) -> Buffer:
        """Set every element to `value`; returns the buffer."""
        allocation = self._live()
        if not self._writeable:
            raise AllocationError("cannot fill a buffer that wraps a read-only array")
        if self.backend.is_host:
            self.native()[...] = value
        else:
            data = np.full(self.size, value, dtype=self._dtype.numpy)
            self.backend.copy_in(allocation.handle, data, allocation.offset)
        return self

    def reshape(self, *shape: Any) -> Buffer:
        """A view with a new shape of the same size (one dimension may be -1)."""
        self._live()
        dims = shape[0] if len(shape) == 1 else shape
        new_shape = _resolve_reshape(dims, self.size, self._shape)
        return Buffer(self._executor, self._allocation, new_shape, self._dtype, self._writeable)

    def free(self) -> None:
        """Return the memory to its allocator now; every view of it becomes unusable.

        Freeing twice raises AllocationError. For a buffer wrapping a host array this only
        marks the buffer as freed; the array's memory is NumPy's.
        """
        self._allocation.free()

    # ------------------------------------------------------------ interchange
    @property
    def __array_interface__(self) -> dict[str, Any]:
        """NumPy's zero-copy interface, on host backends only.

        bfloat16 has no type string NumPy understands; for it, and for device buffers, this
        attribute is absent and NumPy falls back to `__array__`.
        """
        if not self.backend.is_host or self._dtype is DType.BF16 or self.is_freed:
            raise AttributeError("__array_interface__")
        interface = dict(self.native().reshape(self._shape).__array_interface__)
        if not self._writeable:
            interface["data"] = (interface["data"][0], True)
        return interface

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        """CUDA's zero-copy interface (version 3), on buffers in CUDA device memory only.

        Exported by the backend's native view (a CuPy array), shaped like the buffer; the
        consumer holds a reference to the buffer, which keeps its memory alive. Absent on host
        backends, for freed buffers, and for bfloat16, which has no type string consumers
        agree on (use DLPack).
        """
        if self.backend.is_host or self._dtype is DType.BF16 or self.is_freed:
            raise AttributeError("__cuda_array_interface__")
        native = self.native()
        if not hasattr(native, "__cuda_array_interface__"):
            raise AttributeError("__cuda_array_interface__")
        interface = dict(native.reshape(self._shape).__cuda_array_interface__)
        if not self._writeable:
            interface["data"] = (interface["data"][0], True)
        return interface

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The contents for `np.asarray`: a view on host backends unless a copy is asked for."""
        if copy is False and not self.backend.is_host:
            raise ValueError("a device buffer cannot be viewed by NumPy without a copy")
        array = self.to_numpy()
        if dtype is not None and np.dtype(dtype) != array.dtype:
            if copy is False:
                raise ValueError(f"converting {self._dtype} to {dtype} needs a copy")
            return array.astype(dtype)
        return array.copy() if copy and self.backend.is_host else array

    def _dlpack_source(self) -> Any:
        if self._dtype is DType.BF16:
            raise DTypeError(
                "bfloat16 buffers cannot be exported through DLPack (NumPy and CuPy have no "
                "bfloat16 DLPack type); use to_numpy() (a zero-copy view on host backends)"
            )
        view = self.native().reshape(self._shape)
        if not hasattr(view, "__dlpack__"):
            raise HologramError(f"backend {self.backend.name!r} cannot export DLPack tensors")
        return view

    def __dlpack__(self, **kwargs: Any) -> Any:
        """A DLPack capsule of the buffer, exported by the backend's native view (a NumPy
        array on host backends, a CuPy array on cuda, whose `stream` argument orders the
        export after the work queued so far)."""
        return self._dlpack_source().__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        """The DLPack (device type, device id) of the buffer's memory."""
        return self._dlpack_source().__dlpack_device__()


def cast_to(array: np.ndarray, dtype: DType, what: str) -> np.ndarray:
    """`array` as `dtype`, allowing only casts within a kind (no float to int, for example)."""
    target = dtype.numpy
    if array.dtype == target:
        return array
    if not np.can_cast(array.dtype, target, casting="same_kind"):
        raise DTypeError(f"{what}: cannot cast {array.dtype} to {dtype} without changing kind")
    return array.astype(target)


def _parse_dims(shape: Any) -> tuple[int, ...]:
    try:
        if isinstance(shape, Iterable):
            return tuple(operator.index(d) for d in shape)
        return (operator.index(shape),)
    except TypeError:
        raise ShapeError(f"a shape is an int or a sequence of ints, got {shape!r}") from None


def _resolve_reshape(dims: Any, size: int, old_shape: tuple[int, ...]) -> tuple[int, ...]:
    raw = _parse_dims(dims)
    unknown = [i for i, d in enumerate(raw) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in raw):
        raise ShapeError(f"invalid shape {raw}: at most one -1 and no other negative sizes")
    if unknown:
        known = math.prod(d for d in raw if d != -1)
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape {old_shape} ({size} elements) into {raw}")
        raw = tuple(size // known if d == -1 else d for d in raw)
    if math.prod(raw) != size:
        raise ShapeError(f"cannot reshape {old_shape} ({size} elements) into {raw}")
    return raw
