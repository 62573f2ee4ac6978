"""The column passes of reductions (`kernels/device/column_reduce.py`), which device backends
pick for rows whose elements are apart (a leading or middle axis), forced on every backend
and checked against NumPy in float64."""

from __future__ import annotations

import numpy as np
import pytest
from ops_helpers import as_numpy, assert_close, draw, f64

import hologram.ops as hops
from hologram.ops.reduce import DEVICE_LANES, _passes, prepare_reduce

ORACLES = {"sum": np.sum, "min": np.min, "max": np.max, "mean": np.mean}


def _kernels(prepared) -> list[str]:
    return [launch.program.name.split("__")[0] for launch in prepared.launches]


@pytest.mark.parametrize("kind", list(ORACLES))
@pytest.mark.parametrize(
    ("shape", "axis", "launches"),
    [
        ((37, 300), 0, 1),  # wide inner, few rows: whole columns
        ((1000, 3), 0, 2),  # narrow inner: 31 slices, then their combination
        ((20_011, 2), 0, 3),  # narrow inner, long columns: slices of slices
        ((7, 129, 5), 1, 2),  # a middle axis, odd sizes
        ((3, 200, 1, 9), (1, 2), 2),  # consecutive axes as one, inner 9: 6 slices
        ((2, 3, 4), (0, 1), 1),  # no slices: 4 lanes of 6 rows
        ((1, 2), 0, 1),  # one row per lane
    ],
)
def test_column_reductions_match_numpy(executor, rng, kind, shape, axis, launches):
    x = draw(rng, shape, "f64")
    prepared = prepare_reduce(kind, x, axis, executor=executor, blocks=True)
    assert _kernels(prepared) == ["column_reduce"] * launches
    assert_close(prepared(), ORACLES[kind](f64(x), axis=axis), "f64", scale=1e3)


@pytest.mark.parametrize("kind", ["sum", "max"])
def test_column_and_block_passes_together(executor, rng, kind):
    x = draw(rng, (40, 6, 700), "f64")
    prepared = prepare_reduce(kind, x, (0, 2), keepdims=True, executor=executor, blocks=True)
    assert _kernels(prepared) == ["block_reduce", "column_reduce"]
    assert_close(prepared(), ORACLES[kind](f64(x), axis=(0, 2), keepdims=True), "f64", 1e3)


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
    result = as_numpy(prepare_reduce(kind, x, 0, executor=executor, blocks=True)())
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
    assert all(k == "column_reduce" for k in kernels) == device
    assert not device or len(kernels) == 2


@pytest.mark.parametrize(
    ("shape", "axes"),
    [((1 << 14, 4096), (0,)), ((1 << 23, 8), (0,)), ((64, 3, 1 << 12), (0,)), ((9, 1 << 20), (0,))],
)
def test_column_plans_fill_the_device_and_shrink(shape, axes):
    plan = _passes(shape, axes, device=True)
    rows = shape[axes[0]]
    for step, left in plan:
        assert step.column and 1 <= step.chunks <= max(step.r, 1)
        assert step.lanes <= max(DEVICE_LANES, step.outer * step.inner)
        assert step.r == rows and len(left) in (len(shape), 3)
        rows = step.chunks
    assert plan[-1][0].chunks == 1 and plan[-1][1] == (1, *shape[1:])
