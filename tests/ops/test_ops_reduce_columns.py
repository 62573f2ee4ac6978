"""The column and tile passes of reductions (`kernels/device/column_reduce.py`,
`kernels/device/tile_reduce.py`), which device backends pick for rows whose elements are
apart (a leading or middle axis), forced on every backend and checked against NumPy in
float64."""

from __future__ import annotations

import numpy as np
import pytest
from ops_helpers import as_numpy, assert_close, draw, f64

import hologram.ops as hops
from hologram.ops._launch import BLOCK_LANES
from hologram.ops.reduce import DEVICE_LANES, _passes, prepare_reduce

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
        ((1000, 3), 0, [TILE]),  # narrow inner: one block, 85 lanes deep over each column
        ((7, 129, 5), 1, [TILE]),  # a middle axis, odd sizes: a block per outer position
        ((3, 200, 1, 9), (1, 2), [TILE]),  # consecutive axes as one, inner 9
        ((20_011, 2), 0, [TILE, TILE]),  # long narrow columns: chunks, then their combination
        ((5, 3000, 7), 1, [TILE, TILE]),  # several outer positions, each split in chunks
        ((1000, 129), 0, [TILE, TILE]),  # 33 columns a block (4 blocks, the last one short)
        ((300, 300), 0, [TILE, TILE]),  # 75 columns 3 deep: 31 lanes of each block idle
        ((160, 4096), 0, [TILE, TILE]),  # wide inner: 256 columns a block, 5 chunks
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
def test_tile_reductions_of_views_with_keepdims(executor, rng, kind):
    x = draw(rng, (6, 2100, 12), "f32")[:, ::3, 1::2]  # strided in two axes
    prepared = prepare_reduce(kind, x, 1, keepdims=True, executor=executor, blocks=True)
    assert _kernels(prepared) == [TILE]
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
    assert _kernels(prepared) == [TILE, TILE]
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
    assert not device or kernels == [TILE, TILE]


def test_narrow_columns_of_a_large_array_take_two_launches():
    n = (256 << 20) // 4
    for inner in (8, 32):
        plan = _passes((n // inner, inner), (0,), device=True)
        assert [step.width for step, _ in plan] == [inner, 4]
        assert plan[0][0].config.grid[0] * BLOCK_LANES == DEVICE_LANES


def test_column_plans_take_at_most_two_launches_and_fill_the_device():
    for outer in (1, 7, 1000):
        for inner in (2, 3, 8, 32, 129, 300, 4096):
            for r in (1, 100, 1 << 12, 1 << 20):
                _check_column_plan(outer, r, inner)


def _check_column_plan(outer: int, r: int, inner: int) -> None:
    plan = _passes((outer, r, inner), (1,), device=True)
    assert 1 <= len(plan) <= 2 and plan[-1][1] == (outer, 1, inner)
    first = plan[0][0]
    assert first.r == r and (first.column or first.width)
    if first.column:
        # A lane per column, where the columns alone fill a quarter of the device or each
        # column is too short to share.
        assert len(plan) == 1 and (outer * inner * 4 > DEVICE_LANES or r < 128)
        return
    blocks = first.config.grid[0]
    depth = BLOCK_LANES // first.width
    assert first.width <= inner
    assert 8 * depth * first.width >= 7 * BLOCK_LANES or first.width <= 32  # few lanes idle
    # Enough lanes in flight, but not many more than the device runs at once, unless every
    # chunk is a whole column already.
    assert blocks * depth * first.width <= DEVICE_LANES or first.chunks == 1
    assert first.chunk >= min(r, depth * 32)
    if len(plan) == 2:
        second = plan[1][0]
        assert second.r == first.chunks > 1 and second.chunks == 1 and second.width
        # The combining lanes each fold few results.
        assert -(-second.r // (BLOCK_LANES // second.width)) <= 16
