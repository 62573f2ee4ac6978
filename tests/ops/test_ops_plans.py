"""Elementwise calls planned once per signature: repeated calls stay right and keep checking."""

from __future__ import annotations

import numpy as np
import pytest
from ops_helpers import as_numpy, assert_close, draw

import hologram.ops as hops
from hologram.errors import DTypeError, ShapeError


@pytest.mark.parametrize("dtype", ["f32", "f64", "i32"])
def test_repeated_calls_match_numpy(executor, rng, dtype) -> None:
    results = []
    for _ in range(4):  # the first call plans, the others replay the plan
        a, b = draw(rng, (37, 29), dtype), draw(rng, (29,), dtype)
        result = hops.mul(a, b, executor=executor)
        assert isinstance(result, np.ndarray) and result.shape == (37, 29)
        assert_close(result, a.astype(np.float64) * b, dtype)
        results.append(result)
    assert len({r.ctypes.data for r in results}) == len(results)  # a new array each call


def test_buffers_in_give_new_buffers_out(executor, rng) -> None:
    kept = []
    for _ in range(3):
        x = draw(rng, (1000,), "f32")
        result = hops.exp(executor.from_numpy(x), executor=executor)
        assert not isinstance(result, np.ndarray)
        kept.append((result, np.exp(x.astype(np.float64))))
    for result, expected in kept:  # no call wrote over an earlier result
        assert_close(as_numpy(result), expected, "f32")


def test_other_signatures_are_planned_apart(executor, rng) -> None:
    a = draw(rng, (8, 16), "f32")
    for _ in range(2):
        hops.add(a, a, executor=executor)
    cases = [
        (a, draw(rng, (16,), "f32")),
        (a, draw(rng, (8, 1), "f32")),
        (a, draw(rng, (8, 16), "f64")),
        (a, draw(rng, (16, 8), "f32").T),  # not contiguous: the general path
        (a, 2.5),
    ]
    for x, y in cases:
        for _ in range(2):
            result = hops.add(x, y, executor=executor)
            expected = x.astype(np.float64) + np.asarray(y, np.float64)
            dtype = "f64" if np.asarray(y).dtype == np.float64 and np.ndim(y) else "f32"
            assert_close(result, expected, dtype)


def test_chain_is_planned(executor, rng) -> None:
    steps = [("add", 1), ("mul", 2), ("sub", 3), ("relu", None)]
    for _ in range(3):
        a, b, c, d = (draw(rng, (500,), "f32") for _ in range(4))
        result = hops.chain(steps, a, b, c, d, executor=executor)
        expected = np.maximum((a.astype(np.float64) + b) * c - d, 0)
        assert_close(result, expected, "f32", scale=10)


def test_errors_are_raised_every_call(executor, rng) -> None:
    a = draw(rng, (4, 5), "f32")
    for _ in range(3):
        with pytest.raises(ShapeError, match="broadcast"):
            hops.add(a, draw(rng, (4,), "f32"), executor=executor)
        with pytest.raises(DTypeError, match="bool"):
            hops.add(a, np.ones((4, 5), bool), executor=executor)
        with pytest.raises(DTypeError, match="floating-point"):
            hops.sqrt(np.arange(6, dtype=np.int32), executor=executor)


def test_empty_results(executor) -> None:
    for _ in range(3):
        result = hops.add(
            np.empty((0, 3), np.float32), np.empty((3,), np.float32), executor=executor
        )
        assert result.shape == (0, 3) and result.dtype == np.float32


def test_replays_launch_bound_and_odd_inputs_take_the_full_path(executor, rng) -> None:
    """A plan's replays go through its launch bound once; an input that launch cannot take
    as it is (unaligned memory, another byte order) still gives the right result."""
    if not executor.backend.is_host:
        pytest.skip("NumPy inputs are planned on host backends only")
    x = draw(rng, (3, 67), "f32")
    for _ in range(3):  # the same array as both inputs; the third call replays bound
        assert_close(hops.sub(x, x, executor=executor), np.zeros((3, 67)), "f32")
    plans = [p for p in executor.plans.values() if getattr(p, "bound", None) is not None]
    assert plans, "the replay bound its launch"
    raw = np.empty(x.nbytes + 1, np.uint8)[1:]
    unaligned = raw.view(np.float32).reshape(x.shape)
    unaligned[...] = draw(rng, x.shape, "f32")
    assert unaligned.flags.c_contiguous and not unaligned.flags.aligned
    swapped = x.astype(">f4")
    for _ in range(3):
        for other in (unaligned, swapped):
            result = hops.sub(other, x, executor=executor)
            assert_close(result, other.astype(np.float64) - x, "f32")
