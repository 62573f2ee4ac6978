"""Buffers: zero-copy views of host memory, copies, reshapes, DLPack, freeing."""

from __future__ import annotations

import gc

import ml_dtypes
import numpy as np
import pytest

from hologram.errors import AllocationError, DTypeError, ShapeError
from hologram.isa import DType
from hologram.isa.geometry import CLASS_BYTES

ROUND_TRIP_DTYPES = [
    np.bool_,
    np.int8,
    np.int32,
    np.int64,
    np.uint16,
    np.uint64,
    np.float16,
    ml_dtypes.bfloat16,
    np.float32,
    np.float64,
]


def random_array(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    return rng.standard_normal(shape).astype(dt)


def host_only(executor) -> None:
    if not executor.backend.is_host:
        pytest.skip(f"backend {executor.backend_name!r} does not share host memory")


def test_from_numpy_is_zero_copy(executor, rng) -> None:
    host_only(executor)
    a = rng.standard_normal((3, 5)).astype(np.float32)
    buf = executor.from_numpy(a)
    assert buf.allocation.is_borrowed
    assert np.shares_memory(buf.to_numpy(), a)
    assert np.shares_memory(np.asarray(buf), a)
    buf.to_numpy()[1, 2] = 42.0
    assert a[1, 2] == 42.0
    a[0, 0] = -7.0
    assert np.asarray(buf)[0, 0] == -7.0


def test_description(executor) -> None:
    buf = executor.allocate((2, 3, 4), "f16")
    assert buf.shape == (2, 3, 4) and buf.dtype is DType.F16
    assert (buf.size, buf.nbytes, buf.ndim, len(buf)) == (24, 48, 3, 2)
    assert buf.executor is executor and buf.backend is executor.backend
    assert "f16" in repr(buf)


@pytest.mark.parametrize("dtype", ROUND_TRIP_DTYPES, ids=lambda d: np.dtype(d).name)
def test_copy_round_trip(executor, rng, dtype) -> None:
    a = random_array(rng, (7, 9), dtype)
    buf = executor.allocate(a.shape, DType.of(dtype))
    buf.copy_from(a)
    out = buf.to_numpy()
    assert out.dtype == a.dtype and out.shape == a.shape
    np.testing.assert_array_equal(out.view(np.uint8), a.view(np.uint8))


def test_non_contiguous_arrays_are_copied(executor, rng) -> None:
    a = rng.standard_normal((6, 8))[:, ::2]
    buf = executor.from_numpy(a)
    assert not np.shares_memory(buf.to_numpy(), a)
    np.testing.assert_array_equal(buf.to_numpy(), a)


def test_big_endian_arrays_are_copied_in_native_order(executor) -> None:
    a = np.arange(10, dtype=">i4")
    buf = executor.from_numpy(a)
    assert buf.dtype is DType.I32
    np.testing.assert_array_equal(buf.to_numpy(), np.arange(10))


def test_unsupported_dtype_raises(executor) -> None:
    with pytest.raises(DTypeError):
        executor.from_numpy(np.zeros(3, dtype=np.complex64))


def test_zeros_full_and_fill(executor) -> None:
    np.testing.assert_array_equal(executor.zeros((4, 4), "i32").to_numpy(), 0)
    np.testing.assert_array_equal(executor.full(5, 2.5, "f64").to_numpy(), 2.5)
    assert executor.empty(3, np.float32).shape == (3,)


def test_neighbouring_class_buffers_do_not_overlap(executor) -> None:
    first = executor.full(CLASS_BYTES // 4, 1.0, "f32")
    second = executor.full(CLASS_BYTES // 4, 2.0, "f32")
    assert first.owns_classes and second.owns_classes
    assert second.byte_offset == first.byte_offset + CLASS_BYTES
    assert first.handle is executor.allocator.pool_handle
    np.testing.assert_array_equal(first.to_numpy(), 1.0)
    np.testing.assert_array_equal(second.to_numpy(), 2.0)


def test_reshape_is_a_view(executor, rng) -> None:
    a = rng.standard_normal(12)
    buf = executor.from_numpy(a)
    grid = buf.reshape(3, -1)
    assert grid.shape == (3, 4) and buf.reshape((2, 6)).shape == (2, 6)
    np.testing.assert_array_equal(grid.to_numpy(), a.reshape(3, 4))
    if executor.backend.is_host:
        assert np.shares_memory(grid.to_numpy(), a)
    for bad in [(5, -1), (-1, -1), (13,), (2, -3), "x"]:
        with pytest.raises(ShapeError):
            buf.reshape(bad)


def test_bad_shapes_raise(executor) -> None:
    for bad in [(-1, 2), (2.5,), "ab"]:
        with pytest.raises(ShapeError):
            executor.allocate(bad, "f32")


def test_copy_from_checks_size_and_kind(executor) -> None:
    buf = executor.allocate(4, "i32")
    with pytest.raises(ShapeError):
        buf.copy_from(np.arange(5, dtype=np.int32))
    with pytest.raises(DTypeError):
        buf.copy_from(np.array([0.5, 1.0, 2.0, 3.0]))
    buf.copy_from(np.arange(4, dtype=np.int8))  # widening within a kind is fine
    np.testing.assert_array_equal(buf.to_numpy(), np.arange(4))


def test_read_only_arrays_stay_read_only(executor) -> None:
    host_only(executor)
    a = np.arange(6, dtype=np.float32)
    a.flags.writeable = False
    buf = executor.from_numpy(a)
    assert not buf.writeable
    assert not buf.to_numpy().flags.writeable
    assert not np.asarray(buf).flags.writeable
    with pytest.raises(AllocationError, match="read-only"):
        buf.copy_from(np.zeros(6, dtype=np.float32))
    with pytest.raises(AllocationError, match="read-only"):
        buf.fill(1.0)


def test_bfloat16_views_and_dlpack_refusal(executor, rng) -> None:
    host_only(executor)
    a = rng.standard_normal(8).astype(ml_dtypes.bfloat16)
    buf = executor.from_numpy(a)
    viewed = np.asarray(buf)
    assert viewed.dtype == a.dtype and np.shares_memory(viewed, a)
    with pytest.raises(DTypeError, match="bfloat16"):
        np.from_dlpack(buf)


def test_dlpack_shares_memory(executor, rng) -> None:
    host_only(executor)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    buf = executor.from_numpy(a)
    assert buf.__dlpack_device__() == (1, 0)  # kDLCPU, device 0
    exported = np.from_dlpack(buf)
    assert exported.shape == (4, 3) and np.shares_memory(exported, a)
    np.testing.assert_array_equal(exported, a)


def test_freed_buffers_refuse_use(executor) -> None:
    buf = executor.allocate(16, "f32")
    view = buf.reshape(4, 4)
    buf.free()
    assert buf.is_freed and view.is_freed and "freed" in repr(buf)
    for use in (buf.to_numpy, buf.native, view.to_numpy, lambda: buf.reshape(16)):
        with pytest.raises(AllocationError, match="was freed"):
            use()
    with pytest.raises(AllocationError, match="was freed"):
        np.asarray(buf)
    with pytest.raises(AllocationError, match="was freed"):
        buf.copy_from(np.zeros(16, np.float32))
    with pytest.raises(AllocationError, match="double free"):
        view.free()


def test_free_returns_classes(executor) -> None:
    buf = executor.allocate(3 * CLASS_BYTES // 8, "f64")
    assert buf.classes == range(0, 3)
    assert executor.stats()["classes_used"] == 3
    buf.free()
    assert executor.stats()["classes_used"] == 0
    wrapped = executor.from_numpy(np.zeros(4))
    wrapped.free()
    with pytest.raises(AllocationError, match="double free"):
        wrapped.free()


def test_numpy_views_keep_classes_reserved(executor) -> None:
    host_only(executor)
    buf = executor.full(10, 3.0, "f32")
    view = buf.to_numpy()[2:5]
    del buf
    gc.collect()
    assert executor.stats()["classes_used"] == 1
    assert executor.zeros(10, "f32").classes == range(1, 2)  # the class is still taken
    np.testing.assert_array_equal(view, 3.0)
    del view
    gc.collect()
    assert executor.stats()["classes_used"] == 0


def test_host_buffers_have_no_cuda_array_interface(executor) -> None:
    host_only(executor)
    buf = executor.allocate(4, "f32")
    assert not hasattr(buf, "__cuda_array_interface__")
