"""The copy paths that device backends take, run on the reference backend told it is a device.

No device backend exists yet, so these run the reference backend with `is_host = False`: its
memory is still NumPy, but the executor must then reach it only through `copy_in`/`copy_out`.
"""

from __future__ import annotations

import numpy as np
import pytest

from hologram import Executor
from hologram.backends import availability, backend_class
from hologram.isa import Builder, Program


def scale_in_place_program() -> Program:
    """x[i] *= 3 for i < n."""
    b = Builder("scale_in_place")
    x = b.buffer("x", "f64", access="readwrite")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(x, i, b.mul(b.ldg(x, i), 3.0))
    return b.build()


@pytest.fixture
def device_executor() -> Executor:
    ok, reason = availability("reference")
    if not ok:
        pytest.skip(f"backend 'reference' is not available: {reason}")

    class DeviceLikeReference(backend_class("reference")):  # type: ignore[misc, valid-type]
        is_host = False

    return Executor(DeviceLikeReference())


def test_from_numpy_copies(device_executor, rng) -> None:
    a = rng.standard_normal(10)
    buf = device_executor.from_numpy(a)
    assert not buf.allocation.is_borrowed and buf.owns_classes
    out = buf.to_numpy()
    assert not np.shares_memory(out, a)
    np.testing.assert_array_equal(out, a)


def test_numpy_views_need_a_copy(device_executor, rng) -> None:
    a = rng.standard_normal(6)
    buf = device_executor.from_numpy(a)
    assert not hasattr(buf, "__array_interface__")
    np.testing.assert_array_equal(np.asarray(buf), a)
    with pytest.raises(ValueError, match="without a copy"):
        np.asarray(buf, copy=False)


def test_fill_and_copy_from(device_executor) -> None:
    np.testing.assert_array_equal(device_executor.full(5, 7, "i16").to_numpy(), 7)
    buf = device_executor.allocate((2, 2), "f32").copy_from([[1, 2], [3, 4]])
    np.testing.assert_array_equal(buf.to_numpy(), [[1, 2], [3, 4]])


def test_written_arrays_are_copied_back(device_executor, rng) -> None:
    a = rng.standard_normal(50)
    expected = a * 3.0
    device_executor.launch(scale_in_place_program(), 1, 64, [a, 50])
    np.testing.assert_allclose(a, expected, rtol=1e-15)
    assert device_executor.stats()["classes_used"] == 0  # the temporary was freed
