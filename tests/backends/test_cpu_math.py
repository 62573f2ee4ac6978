"""The cpu backend's vectorised float32 math (`backends/_cpu_math.py`) against float64 NumPy.

Each function runs inside a cpu kernel over a dense sweep of float32 bit patterns (every 1021st
of all 2**32, from a random offset) plus the ranges where its approximations meet. Errors are
counted in float32 ulps between the result and the float64 value rounded to float32.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np
import pytest

from hologram.backends import availability
from hologram.isa import Builder, LaunchConfig, Op

pytestmark = pytest.mark.skipif(not availability("cpu")[0], reason="numba is not installed")

MAX_ULPS = {Op.EXP: 1, Op.LOG: 1, Op.TANH: 2, Op.SIGMOID: 2, Op.POW: 1, Op.ERF: 1}
"""Largest float32-ulp distance from the correctly rounded result, as measured (see the module
docstring of `_cpu_math`); NumPy's own float32 exp and log are documented at 2.52 and 3.83."""
SWEEP_STEP = 1021

_exact_erf = np.vectorize(math.erf, otypes=[np.float64])


@pytest.fixture(scope="module")
def backend():
    import hologram.backends.cpu as cpu

    return cpu.CpuBackend()


def unary_on(backend, op: Op, xs: np.ndarray, dtype: str = "f32") -> np.ndarray:
    """`op` of every element of `xs`, computed by one cpu kernel."""
    b = Builder(f"{op.value}_sweep")
    x = b.buffer("x", dtype)
    y = b.buffer("y", dtype, access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.unary(op, b.ldg(x, i)))
    ys = np.zeros_like(xs)
    backend.launch(b.build(), LaunchConfig.for_elements(xs.size, 256), [xs, ys, xs.size])
    return ys


def pow_on(backend, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """x**y elementwise (float32), computed by one cpu kernel."""
    b = Builder("pow_sweep")
    x, y = b.buffer("x", "f32"), b.buffer("y", "f32")
    out = b.buffer("out", "f32", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(out, i, b.binary(Op.POW, b.ldg(x, i), b.ldg(y, i)))
    got = np.zeros_like(xs)
    backend.launch(b.build(), LaunchConfig.for_elements(xs.size, 256), [xs, ys, got, xs.size])
    return got


@functools.cache
def _portable_pow_loop():
    """The portable (no AVX-512) pow of `_cpu_math` in a plain Numba loop."""
    from numba import njit

    from hologram.backends._cpu_math import pow_scalar_f32

    @njit(nogil=True, error_model="numpy")
    def loop(xs, ys, out):  # pragma: no cover - compiled
        for i in range(xs.size):
            out[i] = pow_scalar_f32(xs[i], ys[i])

    return loop


def pow_by(path: str, backend, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """x**y by the kernel (the host's best pow) or by the portable version on any host."""
    if path == "kernel":
        return pow_on(backend, xs, ys)
    got = np.zeros_like(xs)
    _portable_pow_loop()(xs, ys, got)
    return got


POW_PATHS = ["kernel", "portable"]


def oracle(op: Op, xs: np.ndarray) -> np.ndarray:
    """The float64 value of `op` at the float32 `xs`."""
    with np.errstate(all="ignore"):  # the sweep holds signalling NaNs
        wide = xs.astype(np.float64)
        if op is Op.EXP:
            return np.exp(wide)
        if op is Op.LOG:
            return np.log(wide)
        if op is Op.TANH:
            return np.tanh(wide)
        if op is Op.ERF:
            return _exact_erf(wide)
        return 1 / (1 + np.exp(-wide))


def float32_ulps(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Ulps between float32 `got` and float64 `exact` rounded to float32 (+0 and -0 one apart;
    two NaNs none)."""
    with np.errstate(over="ignore"):
        want = exact.astype(np.float32)
    ordered = [a.view(np.int32).astype(np.int64) for a in (got, want)]
    ordered = [np.where(k < 0, -(k & 0x7FFFFFFF) - 1, k) for k in ordered]
    distance = np.abs(ordered[0] - ordered[1])
    return np.where(np.isnan(got) & np.isnan(want), 0, distance)


def assert_exact_where_special(got: np.ndarray, exact: np.ndarray) -> None:
    """Where the exact result is NaN, +-0, +-1 or +-inf, `got` is exactly it, sign included."""
    with np.errstate(over="ignore"):
        want = exact.astype(np.float32)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    special = ~np.isnan(want) & ((want == 0) | (np.abs(want) == 1) | np.isinf(want))
    assert np.array_equal(got[special], want[special])
    assert np.array_equal(np.signbit(got[special]), np.signbit(want[special]))


_EDGES = {
    # exp: the overflow threshold, the subnormal range and the underflow to 0.
    Op.EXP: [(88.0, 89.0), (-88.0, -86.0), (-104.5, -102.0), (-1e-3, 1e-3)],
    # log: around 1 (cancellation), the subnormals, the top of the range.
    Op.LOG: [(0.99, 1.01), (0.7, 0.72), (1.4, 1.42), (1e-45, 1e-38), (1e38, 3.4e38)],
    # tanh: small values (expm1 without cancellation), the first steps of 2**k (|x| near
    # ln(2)/4 and 3 ln(2)/4), the saturation, tiny values.
    Op.TANH: [(-0.7, 0.7), (0.15, 0.2), (0.5, 0.55), (8.0, 10.5), (-1e-4, 1e-4)],
    # sigmoid: around 0 and the subnormal results for very negative x.
    Op.SIGMOID: [(-5.0, 5.0), (-104.0, -86.0), (15.0, 18.0)],
    # erf: the seam between its series and 1 - erfc, the saturation to +-1, tiny values.
    Op.ERF: [(-4.5, 4.5), (0.9, 0.95), (-0.95, -0.9), (3.8, 4.1), (-1e-3, 1e-3)],
}
UNARY = [Op.EXP, Op.LOG, Op.TANH, Op.SIGMOID, Op.ERF]


@pytest.mark.parametrize("op", UNARY, ids=lambda op: op.value)
def test_float32_math_is_within_its_ulp_bound_over_a_dense_sweep(backend, rng, op):
    offset = int(rng.integers(SWEEP_STEP))
    every = np.arange(offset, 2**32, SWEEP_STEP, dtype=np.uint64).astype(np.uint32)
    edges = [rng.uniform(lo, hi, 50_000) for lo, hi in _EDGES[op]]
    xs = np.concatenate([every.view(np.float32), *np.asarray(edges, np.float32)])
    got = unary_on(backend, op, xs)
    exact = oracle(op, xs)
    assert_exact_where_special(got, exact)
    assert float32_ulps(got, exact).max() <= MAX_ULPS[op]


_SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-45, -1e-45, 1.1754942e-38]
_SPECIAL += [88.72283, 88.72284, -87.33654, -103.97207, -103.97208, 3.4028235e38, -3.4028235e38]


@pytest.mark.parametrize("op", UNARY, ids=lambda op: op.value)
def test_float32_math_special_values(backend, op):
    xs = np.array(_SPECIAL, np.float32)
    got = unary_on(backend, op, xs)
    exact = oracle(op, xs)
    assert_exact_where_special(got, exact)
    assert float32_ulps(got, exact).max() <= MAX_ULPS[op]
    if op is Op.TANH:  # odd, down to the subnormals
        assert np.array_equal(got[7:9], xs[7:9])


@pytest.mark.parametrize("path", POW_PATHS)
def test_pow_is_within_its_ulp_bound_over_sampled_pairs(backend, rng, path):
    # Bases over every positive float32 binade, near 1, and ordinary; exponents chosen so that
    # y * log2|x| spans [-160, 160] (from underflow to overflow), a quarter of them integral,
    # with negative bases where the exponent is an integer.
    size = 1_000_000
    bases = [
        rng.integers(1, 0x7F800000, size, dtype=np.uint32).view(np.float32),
        rng.uniform(0.5, 2.0, size),
        rng.uniform(0.999, 1.001, size),
    ]
    xs = np.concatenate(bases).astype(np.float32)
    log2_x = np.log2(xs.astype(np.float64))
    targets = rng.uniform(-160, 160, xs.size)
    ys = (targets / np.where(log2_x == 0, 1, log2_x)).astype(np.float32)
    ys[::4] = rng.integers(-40, 40, ys[::4].size)
    flip = (rng.random(xs.size) < 0.3) & (np.floor(ys) == ys)
    xs = np.where(flip, -xs, xs).astype(np.float32)
    got = pow_by(path, backend, xs, ys)
    with np.errstate(all="ignore"):
        exact = np.power(xs.astype(np.float64), ys.astype(np.float64))
    assert_exact_where_special(got, exact)
    assert float32_ulps(got, exact).max() <= MAX_ULPS[Op.POW]


def test_pow_is_within_its_ulp_bound_where_its_reductions_are_weakest(backend, rng):
    # log2|x| is reduced against a table value c, 1/c a multiple of 1/32 (AVX-512), or against
    # 1 or sqrt(2) (portable): its error peaks where c changes (mantissas near 32/(n + 1/2),
    # the binade ends 3/4 and 3/2; the seams 2**(j/4)), and near x = 1 where log2|x| is tiny.
    # There t = y * log2|x| is taken far out (to 2**+-149), where an error in t weighs most.
    # An odd count leaves lanes for the scalar remainder of the vector loop.
    size = 300_001
    binades = 2.0 ** rng.integers(-120, 120, size)
    table_seams = 32 / (rng.integers(21, 44, size) + 0.5) * binades
    quarter_seams = 2.0 ** (rng.integers(-1, 4, size) / 4.0) * binades
    bases = np.concatenate([table_seams, quarter_seams, np.ones(size)])
    xs = (bases * (1 + rng.uniform(-2e-2, 2e-2, bases.size))).astype(np.float32)
    log2_x = np.log2(xs.astype(np.float64))
    targets = rng.uniform(60, 149, xs.size) * rng.choice([-1.0, 1.0], xs.size)
    ys = (targets / np.where(log2_x == 0, 1, log2_x)).astype(np.float32)
    got = pow_on(backend, xs, ys)
    with np.errstate(all="ignore"):
        exact = np.power(xs.astype(np.float64), ys.astype(np.float64))
    assert_exact_where_special(got, exact)
    assert float32_ulps(got, exact).max() <= MAX_ULPS[Op.POW]


@pytest.mark.parametrize("path", POW_PATHS)
def test_pow_follows_c_for_special_values(backend, path):
    values = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0]
    values += [1e-45, -1e-45, 3.4028235e38, 2.0**24 + 2, -(2.0**24) - 2, 150.0, -150.0, 0.75]
    grid_x, grid_y = (a.ravel().astype(np.float32) for a in np.meshgrid(values, values))
    got = pow_by(path, backend, grid_x, grid_y)
    with np.errstate(all="ignore"):
        exact = np.power(grid_x.astype(np.float64), grid_y.astype(np.float64))
    assert_exact_where_special(got, exact)
    assert float32_ulps(got, exact).max() <= MAX_ULPS[Op.POW]


def _avx512_pow() -> bool:
    if not availability("cpu")[0]:
        return False
    from hologram.backends import _cpu_vector_pow

    return _cpu_vector_pow.available()


@pytest.mark.skipif(not _avx512_pow(), reason="the host has no AVX-512 (F and DQ)")
def test_vectorised_lane_loops_call_the_avx512_pow_once_per_16_lanes():
    # LLVM's loop vectoriser finds the 16-lane pow through the scalar function's attribute;
    # were that lost, results would stay right but every lane would make its own call.
    from numba import njit

    from hologram.backends._cpu_math import pow_f32

    @njit(nogil=True, error_model="numpy")
    def loop(xs, ys, out):  # pragma: no cover - compiled
        for i in range(xs.size):
            out[i] = pow_f32(xs[i], ys[i])

    xs = np.full(40, 2.0, np.float32)
    got = np.zeros_like(xs)
    loop(xs, xs, got)
    assert np.array_equal(got, np.full(40, 4.0, np.float32))
    ir = "".join(loop.inspect_llvm().values())
    assert re.search(r"call [^\n]*<16 x float> @hologram_pow_f32x16\(<16 x float> %wide", ir)


def test_erf_is_within_its_ulp_bound_over_its_whole_curved_range(backend, rng):
    # Every 251st float32 from 0 to 4.5 (subnormals to the point where erf rounds to 1), and
    # as many random negatives: about 4.3 million values.
    top = int(np.float32(4.5).view(np.uint32))
    positive = np.arange(int(rng.integers(251)), top, 251, dtype=np.uint32).view(np.float32)
    xs = np.concatenate([positive, -rng.choice(positive, positive.size // 4)])
    got = unary_on(backend, Op.ERF, xs)
    exact = _exact_erf(xs.astype(np.float64))
    assert_exact_where_special(got, exact)
    assert float32_ulps(got, exact).max() <= MAX_ULPS[Op.ERF]
    assert np.array_equal(np.signbit(got), np.signbit(xs))


@pytest.mark.parametrize(("dtype", "mantissa"), [("f16", 10), ("bf16", 7)])
def test_erf_of_narrow_floats_is_within_one_of_their_ulps(backend, rng, dtype, mantissa):
    import ml_dtypes

    storage = np.float16 if dtype == "f16" else ml_dtypes.bfloat16
    xs = rng.uniform(-5, 5, 5000).astype(storage)
    got = unary_on(backend, Op.ERF, xs, dtype).astype(np.float64)
    exact = _exact_erf(xs.astype(np.float64))
    step = 2.0 ** (np.floor(np.log2(np.maximum(np.abs(exact), 1e-30))) - mantissa)
    assert np.all(np.abs(got - exact) <= step)
