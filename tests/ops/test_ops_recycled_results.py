"""Large results of planned ops reuse the memory of an earlier result only once its caller has
let go of it (`ops/_results.py`): results the caller holds, or holds a view of, never change."""

from __future__ import annotations

import numpy as np
import pytest

import hologram.ops as hops
from hologram import Executor
from hologram.ops._results import RECYCLE_BYTES, RecycledResult

N = RECYCLE_BYTES // 4 + 7  # float32 elements: just over the size that is recycled


@pytest.fixture(params=["reference", "cpu"])
def host(request) -> Executor:
    return Executor(request.param)


def test_a_dropped_result_is_reused_and_a_held_one_is_not(host, rng):
    a = rng.standard_normal(N, dtype=np.float32)
    b = rng.standard_normal(N, dtype=np.float32)
    first = hops.add(a, b, executor=host)  # prepared in full
    second = hops.add(a, b, executor=host)  # replayed: its memory is kept
    np.testing.assert_array_equal(second, a + b)
    address = second.ctypes.data
    del second
    third = hops.add(b, b, executor=host)
    assert third.ctypes.data == address  # nothing referred to it: reused
    np.testing.assert_array_equal(third, b + b)
    held = hops.mul(a, b, executor=host)
    hops.mul(a, b, executor=host)
    view = hops.mul(a, a, executor=host)[::3]
    fourth = hops.mul(b, b, executor=host)
    # The held result, and the one only a view refers to, are untouched by later calls.
    np.testing.assert_array_equal(held, a * b)
    np.testing.assert_array_equal(view, (a * a)[::3])
    np.testing.assert_array_equal(fourth, b * b)
    assert len({held.ctypes.data, view.base.ctypes.data, fourth.ctypes.data}) == 3
    np.testing.assert_array_equal(first, a + b)


def test_reductions_recycle_their_results_too(host, rng):
    x = rng.standard_normal((N, 2), dtype=np.float32)
    want = x.astype(np.float64).sum(axis=1)
    results = [hops.sum(x, axis=1, executor=host) for _ in range(3)]  # all held
    for result in results:
        np.testing.assert_allclose(result, want, rtol=1e-6, atol=1e-6)
    assert len({r.ctypes.data for r in results}) == 3
    address = results[-1].ctypes.data
    del results, result
    again = hops.sum(x, axis=1, executor=host)
    assert again.ctypes.data == address
    np.testing.assert_allclose(again, want, rtol=1e-6, atol=1e-6)


def test_small_and_mismatched_requests_get_new_memory():
    kept = RecycledResult()
    small = kept.array((16,), np.dtype(np.float32))
    assert small.nbytes < RECYCLE_BYTES and kept.array((16,), np.dtype(np.float32)) is not small
    large = kept.array((N,), np.dtype(np.float32))
    address = large.ctypes.data
    del large
    assert kept.array((N,), np.dtype(np.float32)).ctypes.data == address
    other = kept.array((N,), np.dtype(np.int32))  # a kept float32 array is not an int32 one
    assert other.dtype == np.int32
