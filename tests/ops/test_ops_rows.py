"""softmax and layer_norm against float64 NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from ops_helpers import assert_close, draw, f64

import hologram.ops as hops
from hologram.errors import DTypeError, ShapeError


def softmax_oracle(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm_oracle(x, weight, bias, axis, eps):
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


@pytest.mark.parametrize("dtype", ["f32", "f64", "f16", "bf16"])
@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax(executor, rng, dtype, axis):
    x = draw(rng, (3, 6, 7), dtype, -20.0, 20.0)
    result = hops.softmax(x, axis=axis, executor=executor)
    assert_close(result, softmax_oracle(f64(x), axis), dtype)


def test_softmax_of_large_values_does_not_overflow(executor):
    x = np.array([[1000.0, 1001.0, 1002.0]], np.float32)
    assert_close(hops.softmax(x, executor=executor), softmax_oracle(f64(x), -1), "f32")


@pytest.mark.parametrize(
    ("dtype", "axis", "affine"),
    [("f32", -1, "both"), ("f64", 1, "none"), ("f64", -1, "weight"), ("f16", -1, "both")],
)
def test_layer_norm(executor, rng, dtype, axis, affine):
    x = draw(rng, (4, 5, 6), dtype)
    norm_shape = x.shape[axis % 3 :]
    weight = draw(rng, norm_shape, dtype) if affine in ("both", "weight") else None
    bias = draw(rng, norm_shape[-1:], dtype) if affine == "both" else None
    result = hops.layer_norm(x, weight, bias, axis=axis, eps=1e-5, executor=executor)
    w = None if weight is None else f64(weight)
    b = None if bias is None else f64(bias)
    assert_close(result, layer_norm_oracle(f64(x), w, b, axis, 1e-5), dtype, scale=10.0)


def test_row_op_errors(executor):
    with pytest.raises(DTypeError):
        hops.softmax(np.ones((2, 3), np.int32), executor=executor)
    with pytest.raises(ShapeError):
        hops.softmax(np.ones((2, 3), np.float32), axis=2, executor=executor)
    with pytest.raises(ShapeError):
        hops.layer_norm(np.ones((2, 3)), np.ones(4), executor=executor)


def test_empty_rows(executor):
    assert hops.softmax(np.zeros((0, 4), np.float32), executor=executor).shape == (0, 4)
    assert hops.layer_norm(np.zeros((3, 0)), executor=executor).shape == (3, 0)
