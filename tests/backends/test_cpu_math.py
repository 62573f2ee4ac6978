"""The cpu backend's vectorised float32 erf against float64 `math.erf`.

Other float32 helpers (exp, sigmoid, tanh, log, pow) are checked in test_cpu.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hologram.backends import availability
from hologram.isa import Builder, LaunchConfig, Op

pytestmark = pytest.mark.skipif(not availability("cpu")[0], reason="numba is not installed")

MAX_ULPS = 2.0
"""Eigen's and XLA's float32 erf is within 2 ulp; evaluated in float64 it stays there."""

_exact = np.vectorize(math.erf, otypes=[np.float64])


@pytest.fixture(scope="module")
def backend():
    import hologram.backends.cpu as cpu

    return cpu.CpuBackend()


def erf_on(backend, xs: np.ndarray, dtype: str = "f32") -> np.ndarray:
    """`erf` of every element of `xs` (float32), computed by one cpu kernel."""
    b = Builder("erf_sweep")
    x = b.buffer("x", dtype)
    y = b.buffer("y", dtype, access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.unary(Op.ERF, b.ldg(x, i)))
    ys = np.zeros_like(xs)
    backend.launch(b.build(), LaunchConfig.for_elements(xs.size, 256), [xs, ys, xs.size])
    return ys


def ulps(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in units of the float32 spacing at the exact value."""
    spacing = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def test_erf_f32_is_within_two_ulp_over_a_dense_sweep(backend, rng):
    # Every 251st float32 from 0 to 4.5 (subnormals to the point where erf rounds to 1), and
    # as many random negatives: about 4.3 million values.
    top = int(np.float32(4.5).view(np.uint32))
    positive = np.arange(0, top, 251, dtype=np.uint32).view(np.float32)
    negative = -rng.choice(positive, positive.size // 4)
    xs = np.concatenate([positive, negative, rng.uniform(-6, 6, 100_000).astype(np.float32)])
    got = erf_on(backend, xs)
    exact = _exact(xs.astype(np.float64))
    assert ulps(got, exact).max() <= MAX_ULPS
    assert np.all(np.abs(got) <= 1)
    assert np.array_equal(np.signbit(got), np.signbit(xs))


def test_erf_f32_special_values(backend):
    xs = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-38, 3.9, 4.0, 4.5, 10.0, -10.0]
        + [3.4e38, -3.4e38],
        np.float32,
    )
    got = erf_on(backend, xs)
    assert got[0] == 0 and not np.signbit(got[0])
    assert got[1] == 0 and np.signbit(got[1])
    assert got[2:4].tolist() == [1.0, -1.0]
    assert np.isnan(got[4])
    exact = _exact(xs[5:].astype(np.float64))
    assert ulps(got[5:], exact).max() <= MAX_ULPS
    assert got[9:].tolist() == [1.0, 1.0, 1.0, -1.0, 1.0, -1.0]


@pytest.mark.parametrize(("dtype", "mantissa"), [("f16", 10), ("bf16", 7)])
def test_erf_of_narrow_floats_is_within_one_of_their_ulps(backend, rng, dtype, mantissa):
    import ml_dtypes

    storage = np.float16 if dtype == "f16" else ml_dtypes.bfloat16
    xs = rng.uniform(-5, 5, 5000).astype(storage)
    got = erf_on(backend, xs, dtype).astype(np.float64)
    exact = _exact(xs.astype(np.float64))
    step = 2.0 ** (np.floor(np.log2(np.maximum(np.abs(exact), 1e-30))) - mantissa)
    assert np.all(np.abs(got - exact) <= step)
