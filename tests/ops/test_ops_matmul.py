"""matmul (NumPy semantics) and gemm (ONNX semantics) against float64 NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from ops_helpers import as_numpy, assert_close, draw, f64

import hologram.ops as hops
from hologram.errors import DTypeError, ShapeError


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [
        ((5, 7), (7, 3)),
        ((7,), (7, 3)),
        ((5, 7), (7,)),
        ((7,), (7,)),
        ((2, 5, 7), (7, 3)),
        ((2, 1, 5, 7), (3, 7, 4)),
        ((5, 7), (2, 7, 3)),
        ((4, 0), (0, 3)),
        ((0, 4), (4, 3)),
    ],
)
def test_matmul_shapes(executor, rng, shape_a, shape_b):
    a, b = draw(rng, shape_a, "f64"), draw(rng, shape_b, "f64")
    assert_close(hops.matmul(a, b, executor=executor), np.matmul(f64(a), f64(b)), "f64")


@pytest.mark.parametrize("dtype", ["f32", "f16", "i32"])
def test_matmul_dtypes(executor, rng, dtype):
    a, b = draw(rng, (6, 9), dtype, -4, 4), draw(rng, (9, 5), dtype, -4, 4)
    expected = a @ b if dtype == "i32" else f64(a) @ f64(b)
    assert_close(hops.matmul(a, b, executor=executor), expected, dtype, scale=10.0)


def test_matmul_converts_and_broadcasts_buffer_operands(executor, rng):
    # Buffers are materialised on the device (the convert/cast kernel), not through NumPy.
    a, b = draw(rng, (2, 1, 4, 3), "f16"), draw(rng, (3, 3, 5), "f32")
    result = hops.matmul(executor.from_numpy(a), executor.from_numpy(b), executor=executor)
    assert_close(result, np.matmul(f64(a), f64(b)), "f32", scale=10.0)


@pytest.mark.parametrize(
    ("trans_a", "trans_b", "c_shape", "alpha", "beta"),
    [
        (False, False, None, 1.0, 1.0),
        (True, False, (3,), 0.5, 2.0),
        (False, True, (4, 1), 1.0, -1.0),
        (True, True, (4, 3), 2.0, 0.5),
        (False, False, None, 3.0, 1.0),
    ],
)
def test_gemm(executor, rng, trans_a, trans_b, c_shape, alpha, beta):
    a = draw(rng, (6, 4) if trans_a else (4, 6), "f32")
    b = draw(rng, (3, 6) if trans_b else (6, 3), "f32")
    c = None if c_shape is None else draw(rng, c_shape, "f32")
    result = hops.gemm(a, b, c, alpha, beta, trans_a, trans_b, executor=executor)
    expected = alpha * (f64(a).T if trans_a else f64(a)) @ (f64(b).T if trans_b else f64(b))
    if c is not None:
        expected = expected + beta * f64(c)
    assert_close(result, expected, "f32", scale=10.0)


def test_gemm_with_empty_inner_dimension_is_beta_c(executor, rng):
    c = draw(rng, (2, 3), "f64")
    result = hops.gemm(np.zeros((2, 0)), np.zeros((0, 3)), c, beta=3.0, executor=executor)
    assert_close(result, 3.0 * c, "f64")
    np.testing.assert_array_equal(
        as_numpy(hops.gemm(np.zeros((2, 0)), np.zeros((0, 3)), executor=executor)), 0
    )


def test_matmul_errors(executor):
    with pytest.raises(ShapeError):
        hops.matmul(np.ones((2, 3)), np.ones((4, 2)), executor=executor)
    with pytest.raises(ShapeError):
        hops.matmul(np.float64(2.0), np.ones(3), executor=executor)
    with pytest.raises(ShapeError):
        hops.gemm(np.ones(3), np.ones((3, 2)), executor=executor)
    with pytest.raises(DTypeError):
        hops.gemm(
            np.ones((2, 2), np.int32), np.ones((2, 2), np.int32), alpha=0.5, executor=executor
        )
    with pytest.raises(DTypeError):
        hops.matmul(np.ones((2, 2), bool), np.ones((2, 2), bool), executor=executor)
