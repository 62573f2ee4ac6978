"""The column passes of reductions (`kernels/device/column_reduce.py`) and the tile pass that
combines their slices (`kernels/device/tile_reduce.py`), which device backends pick for rows
whose elements are apart (a leading or middle axis), forced on every backend and checked
against NumPy in float64."""

from __future__ import annotations

import numpy as np
import pytest
from ops_helpers import as_numpy, assert_close, draw, f64

import hologram.ops as hops
from hologram.ops._launch import BLOCK_LANES
from hologram.ops.reduce import _COMBINE_ROWS, DEVICE_LANES, _passes, prepare_reduce

ORACLES = {"sum": np.sum, "min": np.min, "max": np.max, "mean": np.mean}
COLUMN, TILE = "column_reduce", "tile_reduce"


def _kernels(prepared) -> list[str]:
    return [launch.program.name.split("__")[0] for launch in prepared.launches]


@pytest.mark.parametrize("kind", list(ORACLES))
@pytest.mark.parametrize(
    ("shape", "axis", "kernels"),
    [
        ((37, 300), 0, [COLUMN]),  # wide inner, few rows: a lane per whole column
        ((2, 3, 4), (0, 1), [COLUMN]),  # 4 lanes of 6 rows
        ((1, 2), 0, [COLUMN]),  # one row per lane
        ((1000, 3), 0, [COLUMN, TILE]),  # narrow inner: 31 slices, combined 85 lanes deep
        ((7, 129, 5), 1, [COLUMN, TILE]),  # a middle axis, odd sizes: 4 slices
        ((3, 200, 1, 9), (1, 2), [COLUMN, TILE]),  # consecutive axes as one, inner 9: 6 slices
        ((20_011, 2), 0, [COLUMN, TILE]),  # 625 slices: 5 a combining lane, the last 4
        ((1000, 129), 0, [COLUMN, TILE]),  # combined 33 columns a block, the last block short
        ((300, 300), 0, [COLUMN, TILE]),  # combined 75 columns 3 deep: 31 lanes a block idle
    ],
)
def test_column_reductions_match_numpy(executor, rng, kind, shape, axis, kernels):
    x = draw(rng, shape, "f64")
    prepared = prepare_reduce(kind, x, axis, executor=executor, blocks=True)
    assert _kernels(prepared) == kernels
    assert_close(prepared(), ORACLES[kind](f64(x), axis=axis), "f64", scale=1e3)


@pytest.mark.parametrize("kind", ["sum", "max"])
def test_column_and_block_passes_together(executor, rng, kind):
    x = draw(rng, (40, 6, 700), "f64")
    prepared = prepare_reduce(kind, x, (0, 2), keepdims=True, executor=executor, blocks=True)
    assert _kernels(prepared) == ["block_reduce", COLUMN]
    assert_close(prepared(), ORACLES[kind](f64(x), axis=(0, 2), keepdims=True), "f64", 1e3)


@pytest.mark.parametrize("kind", ["mean", "min"])
def test_column_reductions_of_views_with_keepdims(executor, rng, kind):
    x = draw(rng, (6, 2100, 12), "f32")[:, ::3, 1::2]  # strided in two axes
    prepared = prepare_reduce(kind, x, 1, keepdims=True, executor=executor, blocks=True)
    assert _kernels(prepared) == [COLUMN, TILE]
    expected = ORACLES[kind](f64(x), axis=1, keepdims=True).astype(np.float32)
    assert_close(prepared(), expected, "f32", scale=100.0)


@pytest.mark.parametrize(("dtype", "kind"), [("f32", "sum"), ("f16", "mean"), ("bf16", "min")])
def test_column_reductions_of_floats(executor, rng, dtype, kind):
    x = draw(rng, (3001, 5), dtype, 0.0, 1.0)
    result = prepare_reduce(kind, x, 0, executor=executor, blocks=True)()
    assert_close(result, ORACLES[kind](f64(x), axis=0).astype(x.dtype), dtype, scale=100.0)


@pytest.mark.parametrize(("dtype", "kind"), [("i32", "sum"), ("u8", "sum"), ("i16", "max")])
def test_column_reductions_of_integers_follow_numpy(executor, rng, dtype, kind):
    x = draw(rng, (4321, 6), dtype, -100, 100)
    result = prepare_reduce(kind, x, 0, executor=executor, blocks=True)()
    expected = ORACLES[kind](x, axis=0)
    assert as_numpy(result).dtype == expected.dtype
    np.testing.assert_array_equal(as_numpy(result), expected)


@pytest.mark.parametrize("kind", ["min", "max", "sum"])
def test_column_reductions_propagate_nan(executor, rng, kind):
    x = draw(rng, (5000, 4), "f32")
    x[3333, 2] = np.nan
    prepared = prepare_reduce(kind, x, 0, executor=executor, blocks=True)
    assert _kernels(prepared) == [COLUMN, TILE]
    result = as_numpy(prepared())
    assert np.isnan(result[2]) and not np.isnan(result[[0, 1, 3]]).any()
    assert_close(result[[0, 1, 3]], ORACLES[kind](f64(x[:, [0, 1, 3]]), axis=0), "f32", 1e3)


def test_column_reductions_of_an_empty_axis(executor):
    x = np.zeros((0, 6), np.float32)
    total = as_numpy(prepare_reduce("sum", x, 0, executor=executor, blocks=True)())
    mean = as_numpy(prepare_reduce("mean", x, 0, executor=executor, blocks=True)())
    np.testing.assert_array_equal(total, np.zeros(6, np.float32))
    assert mean.shape == (6,) and np.isnan(mean).all()


def test_device_backends_pick_column_passes(executor, rng):
    x = draw(rng, (3000, 40), "f32")
    kernels = _kernels(hops.prepare("sum", x, axis=0, executor=executor))
    device = not executor.backend.is_host
    assert all(k in (COLUMN, TILE) for k in kernels) == device
    assert not device or kernels == [COLUMN, TILE]


def test_narrow_columns_of_a_large_array_take_two_launches():
    n = (256 << 20) // 4
    for inner in (8, 32):
        first, combine = (step for step, _ in _passes((n // inner, inner), (0,), device=True))
        # All lanes sweep the array together, 256 rows each; one block combines each column.
        assert first.column and first.lanes == DEVICE_LANES and first.r == first.chunks * 256
        assert combine.width == 1 and combine.r == first.chunks
        assert combine.config.grid[0] == inner


def test_column_plans_take_at_most_two_launches_and_fill_the_device():
    for outer in (1, 7, 1000):
        for inner in (2, 3, 8, 32, 129, 300, 4096):
            for r in (1, 100, 1 << 12, 1 << 20):
                _check_column_plan(outer, r, inner)


def _check_column_plan(outer: int, r: int, inner: int) -> None:
    plan = _passes((outer, r, inner), (1,), device=True)
    assert 1 <= len(plan) <= 2 and plan[-1][1] == (outer, 1, inner)
    first = plan[0][0]
    assert first.column and first.r == r
    if len(plan) == 1:
        # A lane per whole column, where the columns alone fill a quarter of the device or
        # each column is too short to share.
        assert first.chunks == 1 and (outer * inner * 4 > DEVICE_LANES or r < 128)
        return
    # Slices over at most the device's lanes, each lane folding at least 32 rows.
    assert first.chunks >= 4 and first.chunks * 32 <= r
    assert first.lanes <= DEVICE_LANES and plan[0][1] == (outer, first.chunks, inner)
    combine = plan[1][0]
    assert combine.r == first.chunks and combine.chunks == 1 and 1 <= combine.width <= inner
    depth = BLOCK_LANES // combine.width
    assert 8 * depth * combine.width >= 7 * BLOCK_LANES or combine.width <= 32  # few idle
    # Each combining lane folds few results, unless a whole block stands over one column.
    assert -(-combine.r // depth) <= _COMBINE_ROWS or combine.width == 1
