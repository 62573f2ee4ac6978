"""Reductions against NumPy: sum, min, max, mean over int, tuple and None axes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, valid_tuple_axes
from ops_helpers import FLOATS, as_numpy, assert_close, draw, f64

import hologram.ops as hops
from hologram.errors import DTypeError, ShapeError

ORACLES = {"sum": np.sum, "min": np.min, "max": np.max, "mean": np.mean}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kind", list(ORACLES))
@pytest.mark.parametrize(
    ("axis", "keepdims"), [(None, False), (-1, False), (1, True), ((0, 2), False), ((1, 2), True)]
)
def test_float_reductions(executor, rng, kind, dtype, axis, keepdims):
    x = draw(rng, (3, 4, 5), dtype)
    result = getattr(hops, kind)(x, axis=axis, keepdims=keepdims, executor=executor)
    expected = ORACLES[kind](f64(x), axis=axis, keepdims=keepdims)
    assert_close(result, expected, dtype, scale=10.0)


@pytest.mark.parametrize("kind", list(ORACLES))
def test_long_rows_split_across_lanes(executor, rng, kind):
    x = draw(rng, (2, 20_000), "f64")
    prepared = hops.prepare(kind, x, axis=1, executor=executor)
    assert len(prepared.launches) == 2  # chunks, then their combination
    assert_close(prepared(), ORACLES[kind](f64(x), axis=1), "f64", scale=1e3)


@pytest.mark.parametrize("kind", list(ORACLES))
def test_long_columns_split_across_lanes(executor, rng, kind):
    # Axis 0 of a tall matrix: long rows side by side, eight to a lane (the last three in a
    # group of their own), split into chunks too. Device backends take a lane per column and
    # interleaved slice of rows (625 slices), then one tile pass that combines the slices.
    x = draw(rng, (20_000, 11), "f64")
    prepared = hops.prepare(kind, x, axis=0, executor=executor)
    assert len(prepared.launches) == 2
    assert_close(prepared(), ORACLES[kind](f64(x), axis=0), "f64", scale=1e3)


@pytest.mark.parametrize(("dtype", "kind"), [("i32", "sum"), ("u8", "sum"), ("i32", "min")])
def test_integer_reductions_follow_numpy_dtypes(executor, rng, dtype, kind):
    x = draw(rng, (6, 7), dtype, -100, 100)
    result = getattr(hops, kind)(x, axis=0, executor=executor)
    expected = ORACLES[kind](x, axis=0)
    assert_close(result, expected, str(as_numpy(result).dtype))
    assert as_numpy(result).dtype == expected.dtype


@pytest.mark.parametrize(("dtype", "kind"), [("f16", "sum"), ("bf16", "mean"), ("f16", "max")])
def test_half_reductions_accumulate_in_f32(executor, rng, dtype, kind):
    x = draw(rng, (4, 300), dtype, 0.0, 1.0)
    result = getattr(hops, kind)(x, axis=-1, executor=executor)
    assert_close(result, ORACLES[kind](f64(x), axis=-1), dtype)


def test_empty_reductions(executor):
    x = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(hops.sum(x, axis=0, executor=executor), np.zeros(3))
    assert np.isnan(as_numpy(hops.mean(x, axis=0, executor=executor))).all()
    assert as_numpy(hops.max(x, axis=1, executor=executor)).shape == (0,)
    with pytest.raises(ShapeError):
        hops.min(x, axis=0, executor=executor)


def test_reduction_errors(executor):
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ShapeError):
        hops.sum(x, axis=2, executor=executor)
    with pytest.raises(ShapeError):
        hops.sum(x, axis=(0, 0), executor=executor)
    with pytest.raises(DTypeError):
        hops.mean(np.ones(3, np.int32), executor=executor)


def test_nan_propagates_through_min_and_max(executor):
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(hops.max(x, axis=1, executor=executor), [np.nan, 3.0])
    np.testing.assert_array_equal(hops.min(x, axis=1, executor=executor), [np.nan, 1.0])
    # Along axis 0, nine columns: eight to one lane, the ninth to another.
    y = np.arange(27.0).reshape(3, 9)
    y[1, 4] = y[2, 8] = np.nan
    np.testing.assert_array_equal(hops.max(y, axis=0, executor=executor), np.max(y, axis=0))
    np.testing.assert_array_equal(hops.min(y, axis=0, executor=executor), np.min(y, axis=0))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_shapes_and_axes(executor, data):
    kind = data.draw(st.sampled_from(["sum", "max"]))
    shape = data.draw(
        array_shapes(min_dims=0, max_dims=4, min_side=1 if kind == "max" else 0, max_side=5)
    )
    axes = data.draw(st.none() | valid_tuple_axes(len(shape)))
    keepdims = data.draw(st.booleans())
    x = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
    result = getattr(hops, kind)(x, axis=axes, keepdims=keepdims, executor=executor)
    assert_close(result, ORACLES[kind](x, axis=axes, keepdims=keepdims), "f64", scale=10.0)
