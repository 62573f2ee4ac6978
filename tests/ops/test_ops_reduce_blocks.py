"""The block passes of reductions (`kernels/device/block_reduce.py`), which device backends
pick for long contiguous rows, forced on every backend and checked against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from ops_helpers import as_numpy, assert_close, draw, f64

import hologram.ops as hops
from hologram.ops.reduce import prepare_reduce

ORACLES = {"sum": np.sum, "min": np.min, "max": np.max, "mean": np.mean}


@pytest.mark.parametrize("kind", list(ORACLES))
@pytest.mark.parametrize(
    ("shape", "axis", "launches"),
    [
        ((3, 1000), -1, 1),  # a block per row, with a ragged tail of lanes
        ((2, 20_011), 1, 2),  # long rows: chunks, then their combination
        ((50_000,), None, 2),
        ((4, 5, 300), (1, 2), 1),  # two consecutive axes as one row
        ((300, 7, 200), (0, 2), 3),  # a block pass, a column pass of 9 slices, their combine
    ],
)
def test_block_reductions_match_numpy(executor, rng, kind, shape, axis, launches):
    x = draw(rng, shape, "f64")
    prepared = prepare_reduce(kind, x, axis, executor=executor, blocks=True)
    assert len(prepared.launches) == launches
    assert_close(prepared(), ORACLES[kind](f64(x), axis=axis), "f64", scale=1e3)


@pytest.mark.parametrize(("dtype", "kind"), [("f32", "sum"), ("f16", "mean"), ("bf16", "max")])
def test_block_reductions_of_floats(executor, rng, dtype, kind):
    x = draw(rng, (5, 9000), dtype, 0.0, 1.0)
    result = prepare_reduce(kind, x, -1, executor=executor, blocks=True)()
    assert_close(result, ORACLES[kind](f64(x), axis=-1).astype(x.dtype), dtype, scale=100.0)


@pytest.mark.parametrize(("dtype", "kind"), [("i32", "sum"), ("u8", "sum"), ("i16", "min")])
def test_block_reductions_of_integers_follow_numpy(executor, rng, dtype, kind):
    x = draw(rng, (3, 12_345), dtype, -100, 100)
    result = prepare_reduce(kind, x, 1, executor=executor, blocks=True)()
    expected = ORACLES[kind](x, axis=1)
    assert as_numpy(result).dtype == expected.dtype
    np.testing.assert_array_equal(as_numpy(result), expected)


@pytest.mark.parametrize("kind", ["min", "max", "sum"])
def test_block_reductions_propagate_nan(executor, rng, kind):
    x = draw(rng, (2, 10_000), "f32")
    x[1, 7777] = np.nan
    result = as_numpy(prepare_reduce(kind, x, 1, executor=executor, blocks=True)())
    assert np.isnan(result[1]) and not np.isnan(result[0])
    assert_close(result[0], ORACLES[kind](f64(x[0])), "f32", scale=1e3)


def test_block_mean_of_an_empty_axis_is_nan(executor):
    x = np.zeros((0, 400), np.float32)
    result = prepare_reduce("mean", x, (0, 1), keepdims=True, executor=executor, blocks=True)()
    assert np.isnan(as_numpy(result)).all()


def test_device_backends_pick_block_passes(executor, rng):
    x = draw(rng, (4, 20_000), "f32")
    prepared = hops.prepare("sum", x, axis=1, executor=executor)
    block = [launch.program.name.startswith("block_reduce") for launch in prepared.launches]
    assert all(block) == (not executor.backend.is_host) and any(block) == all(block)
