"""Oracles, tolerances and input draws shared by the ops tests."""

from __future__ import annotations

import math

import numpy as np

from hologram.isa import DType

TOLERANCE = {
    DType.F16: 2e-3,
    DType.BF16: 1.6e-2,
    DType.F32: 2e-5,
    DType.F64: 1e-12,
}
"""Relative (and absolute) tolerance of a result of each float dtype against a float64 oracle."""

FLOATS = ("f32", "f64")
HALVES = ("f16", "bf16")


def as_numpy(result: object) -> np.ndarray:
    """A result (NumPy array or Buffer) as an array."""
    to_numpy = getattr(result, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else result)


def draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, low=-3.0, high=3.0):
    """Random values in [low, high) stored as `dtype` (integers: whole numbers)."""
    dt = DType.of(dtype)
    if dt.is_int:
        lo = max(int(low), 0) if not dt.is_signed else int(low)
        return rng.integers(lo, int(high) + 1, size=shape).astype(dt.numpy)
    return rng.uniform(low, high, size=shape).astype(dt.numpy)


def assert_close(result: object, expected: np.ndarray, dtype: str, scale: float = 1.0) -> None:
    """`result` matches the float64 oracle within the dtype's tolerance (integers: exactly).

    `scale` widens the absolute tolerance for results that sum many terms.
    """
    got = as_numpy(result)
    dt = DType.of(dtype)
    assert got.dtype == dt.numpy, f"dtype {got.dtype}, expected {dt.numpy}"
    assert got.shape == np.shape(expected), f"shape {got.shape}, expected {np.shape(expected)}"
    if dt.is_int:
        np.testing.assert_array_equal(got, expected)
        return
    tol = TOLERANCE[dt]
    np.testing.assert_allclose(
        got.astype(np.float64), expected, rtol=tol, atol=tol * scale, equal_nan=True
    )


def f64(x: np.ndarray) -> np.ndarray:
    """The values of `x` (as stored) in float64."""
    return np.asarray(x).astype(np.float64)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf(x: np.ndarray) -> np.ndarray:
    """The error function in float64."""
    return _erf(x) if np.size(x) else np.zeros(np.shape(x))


def truncating_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The ISA's integer division: toward zero, and 0 where b is 0."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    safe = np.where(b64 == 0, 1, b64)
    quotient = np.trunc(a64 / safe)
    return np.where(b64 == 0, 0, quotient).astype(np.result_type(a, b))


UNARY_ORACLES = {
    "abs": np.abs,
    "neg": np.negative,
    "relu": lambda x: np.maximum(x, 0),
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "gelu": lambda x: 0.5 * x * (1.0 + erf(x / math.sqrt(2.0))),
    "erf": erf,
}
"""float64 oracles of the unary ops."""

UNARY_DOMAINS = {"sqrt": (0.0, 4.0), "log": (0.05, 4.0), "exp": (-4.0, 4.0)}

BINARY_ORACLES = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "minimum": np.minimum,
    "maximum": np.maximum,
    "pow": np.power,
}
"""float64 oracles of the binary ops (integer div is `truncating_div`)."""
