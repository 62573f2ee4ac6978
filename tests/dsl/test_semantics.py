"""Operators of the kernel language on every backend, against NumPy in float64.

Each kernel writes several results into one output array (result k of element i at
`out[k * n + i]`), so that one compile covers many operators.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from dsl_helpers import BLOCK, assert_close, draw, instructions, launch, nonzero

import hologram as hg
from hologram.isa import DType

N = 50  # fewer than one block of lanes, so that the `i < n` guards matter


@hg.kernel
def arith(x: hg.Array, y: hg.Array, out: hg.Array, n: hg.int32):
    i = hg.global_id()
    if i < n:
        a = x[i]
        b = y[i]
        out[i] = a + b
        out[n + i] = a - b
        out[2 * n + i] = a * b
        out[3 * n + i] = a // b
        out[4 * n + i] = a % b
        out[5 * n + i] = -a
        out[6 * n + i] = abs(a)
        out[7 * n + i] = min(a, b)
        out[8 * n + i] = max(a, b, 2)
        out[9 * n + i] = a**2
        out[10 * n + i] = a**3 + b**0


def arith_oracle(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """The results of `arith`: in float64 for floats, in the dtype itself for integers."""
    if a.dtype.kind == "f":
        a, b = a.astype(np.float64), b.astype(np.float64)
    two = a.dtype.type(2)
    with np.errstate(over="ignore"):
        return [a + b, a - b, a * b, np.floor_divide(a, b), np.remainder(a, b), -a, np.abs(a),
                np.minimum(a, b), np.maximum(np.maximum(a, b), two), a * a,
                a * a * a + a.dtype.type(1)]  # fmt: skip


@pytest.mark.parametrize("dtype", ["i32", "u32", "i64", "f32", "f64"])
def test_arithmetic_follows_python_semantics(executor, rng, dtype):
    x = draw(rng, N, dtype, -9, 9)
    y = nonzero(rng, N, dtype, -4, 4)
    out = np.zeros(11 * N, DType.of(dtype).numpy)
    launch(executor, arith, N, x, y, out, N)
    for k, expected in enumerate(arith_oracle(x, y)):
        assert_close(out[k * N : (k + 1) * N], expected, dtype)


def test_integer_floor_division_and_modulo_of_negatives_and_by_zero(executor):
    x = np.array([-7, 7, -7, 7, -6, 6, 0, 5, -5, -2147483648], np.int32)
    y = np.array([2, -2, -2, 2, 3, -3, 4, 0, 0, -1], np.int32)
    out = np.zeros(11 * x.size, np.int32)
    launch(executor, arith, x.size, x, y, out, x.size)
    floor = out[3 * x.size : 4 * x.size]
    mod = out[4 * x.size : 5 * x.size]
    # Python's floor semantics; the ISA's zero for a zero divisor; INT_MIN // -1 wraps.
    np.testing.assert_array_equal(floor, [-4, -4, 3, 3, -2, -2, 0, 0, 0, -2147483648])
    np.testing.assert_array_equal(mod, [1, -1, -1, 1, 0, 0, 0, 0, 0, 0])


def test_float_floor_division_and_modulo_of_negatives(executor):
    x = np.array([-7.5, 7.5, -7.5, 7.5, -6.0, 0.5, 3.0, -1.0], np.float64)
    y = np.array([2.0, -2.0, -2.0, 2.0, 3.0, -0.25, np.inf, 0.0], np.float64)
    out = np.zeros(11 * x.size)
    launch(executor, arith, x.size, x, y, out, x.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(out[3 * x.size : 4 * x.size], np.floor_divide(x, y))
        np.testing.assert_array_equal(out[4 * x.size : 5 * x.size], np.remainder(x, y))


@hg.kernel
def const_division(x: hg.Array, out: hg.Array, n: hg.int32):
    i = hg.global_id()
    if i < n:
        a = x[i]
        out[i] = a // 4
        out[n + i] = a % 4
        out[2 * n + i] = a // 3
        out[3 * n + i] = a % 3
        out[4 * n + i] = a // -3
        out[5 * n + i] = a % -3
        out[6 * n + i] = a // 1 + a % 1


@pytest.mark.parametrize("dtype", ["i32", "u32", "f32"])
def test_division_by_constants(executor, rng, dtype):
    # Powers of two become shifts and masks; other constants skip the divisor's sign test.
    x = draw(rng, N, dtype, -100, 100)
    out = np.zeros(7 * N, x.dtype)
    launch(executor, const_division, N, x, out, N)
    wide = x.astype(np.float64) if dtype == "f32" else x.astype(np.int64)
    minus3 = -3 if x.dtype.kind != "u" else int(np.uint32(-3 % 2**32))
    expected = [wide // 4, wide % 4, wide // 3, wide % 3, wide // minus3, wide % minus3,
                wide // 1 + wide % 1]  # fmt: skip
    for k, values in enumerate(expected):
        np.testing.assert_array_equal(
            out[k * N : (k + 1) * N], values.astype(x.dtype), err_msg=f"result {k}"
        )
    if dtype != "f32":
        program = const_division.specialize(x=dtype, out=dtype)
        assert len(instructions(program, "shr")) == 1 and len(instructions(program, "div")) == 2


@hg.kernel
def bitwise(x: hg.Array, y: hg.Array, out: hg.Array, n: hg.int32):
    i = hg.global_id()
    if i < n:
        a = x[i]
        b = y[i]
        s = b & 7
        out[i] = a & b
        out[n + i] = a | b
        out[2 * n + i] = a ^ b
        out[3 * n + i] = ~a
        out[4 * n + i] = a << s
        out[5 * n + i] = a >> s
        out[6 * n + i] = (a | 0xF0) >> 2 << 1


@pytest.mark.parametrize("dtype", ["i32", "u32", "i64"])
def test_bitwise_operators_and_shifts(executor, rng, dtype):
    x = draw(rng, N, dtype, -1000, 1000)
    y = draw(rng, N, dtype, -1000, 1000)
    out = np.zeros(7 * N, x.dtype)
    launch(executor, bitwise, N, x, y, out, N)
    s = y & x.dtype.type(7)
    expected = [x & y, x | y, x ^ y, ~x, x << s, x >> s,
                (x | x.dtype.type(0xF0)) >> x.dtype.type(2) << x.dtype.type(1)]  # fmt: skip
    for k, values in enumerate(expected):
        np.testing.assert_array_equal(out[k * N : (k + 1) * N], values, err_msg=f"result {k}")


@hg.kernel
def float_math(x: hg.Array, y: hg.Array, out: hg.Array, n: hg.int32):
    i = hg.global_id()
    if i < n:
        a = x[i]
        b = y[i]
        m = abs(a)
        results = 12
        out[i] = a / b
        out[n + i] = hg.exp(a)
        out[2 * n + i] = hg.log(m + 1)
        out[3 * n + i] = math.sqrt(m)
        out[4 * n + i] = hg.rsqrt(m + 1)
        out[5 * n + i] = hg.sin(a) + math.cos(b)
        out[6 * n + i] = hg.tanh(a) + hg.sigmoid(b)
        out[7 * n + i] = hg.erf(a)
        out[8 * n + i] = hg.floor(a) + hg.ceil(b) * 10
        out[9 * n + i] = round(a) + hg.trunc(b) * 10
        out[10 * n + i] = m**b + hg.pow(m, 0.5)
        out[(results - 1) * n + i] = hg.fma(a, b, 1.0)


def float_math_oracle(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    erf = np.vectorize(math.erf)
    a, b = a.astype(np.float64), b.astype(np.float64)
    m = np.abs(a)
    return [a / b, np.exp(a), np.log(m + 1), np.sqrt(m), 1 / np.sqrt(m + 1),
            np.sin(a) + np.cos(b), np.tanh(a) + 1 / (1 + np.exp(-b)), erf(a),
            np.floor(a) + np.ceil(b) * 10, np.round(a) + np.trunc(b) * 10,
            m**b + np.sqrt(m), a * b + 1]  # fmt: skip


@pytest.mark.parametrize("dtype", ["f32", "f64", "f16", "bf16"])
def test_math_functions(executor, rng, dtype):
    x = draw(rng, N, dtype, -3, 3)
    # Values at .5 check that round() rounds half to even.
    x[:6] = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], np.float64).astype(x.dtype)
    y = nonzero(rng, N, dtype, -2, 2)
    out = np.zeros(12 * N, x.dtype)
    launch(executor, float_math, N, x, y, out, N)
    for k, expected in enumerate(float_math_oracle(x, y)):
        tol = {"f32": 1e-5, "f64": 1e-12, "f16": 4e-3, "bf16": 3e-2}[dtype]
        got = out[k * N : (k + 1) * N].astype(np.float64)
        # Half types round after every instruction: the tolerance scales with the terms' size.
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * 4, err_msg=f"result {k}")


def test_small_constant_powers_unroll_and_others_use_pow():
    program = float_math.specialize(x="f32", y="f32", out="f32")
    assert len(instructions(program, "pow")) == 2  # m ** b and hg.pow(m, 0.5)
    program = arith.specialize(x="i32", y="i32", out="i32")
    assert not instructions(program, "pow")


@hg.kernel
def compares(x: hg.Array, y: hg.Array, z: hg.Array, out: hg.Array[hg.bool_], n: hg.int32):
    i = hg.global_id()
    if i < n:
        a = x[i]
        b = y[i]
        c = z[i]
        out[i] = a < b
        out[n + i] = a <= b
        out[2 * n + i] = a > b
        out[3 * n + i] = a >= b
        out[4 * n + i] = a == b
        out[5 * n + i] = a != b
        out[6 * n + i] = a < b < c
        out[7 * n + i] = a <= b != c
        out[8 * n + i] = not a < b
        out[9 * n + i] = (a < b and b < c) or a == c
        out[10 * n + i] = (a < b) ^ (b < c)


@pytest.mark.parametrize("dtype", ["i32", "f32"])
def test_comparisons_chained_and_with_nan(executor, rng, dtype):
    x, y, z = (draw(rng, N, dtype, -2, 2) for _ in range(3))
    if dtype == "f32":
        x[:3] = np.nan
        y[3:5] = np.nan
    out = np.zeros(11 * N, bool)
    launch(executor, compares, N, x, y, z, out, N)
    expected = [x < y, x <= y, x > y, x >= y, x == y, x != y, (x < y) & (y < z),
                (x <= y) & (y != z), ~(x < y), ((x < y) & (y < z)) | (x == z),
                (x < y) ^ (y < z)]  # fmt: skip
    for k, values in enumerate(expected):
        np.testing.assert_array_equal(out[k * N : (k + 1) * N], values, err_msg=f"result {k}")


@hg.kernel
def casts(x: hg.Array[hg.float32], ints: hg.Array[hg.int32], small: hg.Array[hg.int8],
          bytes_: hg.Array[hg.uint8], halves: hg.Array[hg.float16],
          brains: hg.Array[hg.bfloat16], flags: hg.Array[hg.bool_], n: hg.int32):  # fmt: skip
    i = hg.global_id()
    if i < n:
        v = x[i]
        ints[i] = int(v)
        ints[n + i] = v  # a store converts as a cast does
        ints[2 * n + i] = hg.int32(hg.floor(v))
        small[i] = hg.int8(v)
        bytes_[i] = hg.uint8(v)
        halves[i] = hg.float16(v)
        brains[i] = hg.bfloat16(v)
        flags[i] = bool(v)


def saturated(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The ISA's float-to-integer conversion: truncate, saturate, NaN to 0."""
    info = np.iinfo(dtype)
    clean = np.nan_to_num(np.trunc(values.astype(np.float64)), nan=0.0)
    return np.clip(clean, info.min, info.max).astype(dtype)


def test_casts_truncate_saturate_and_round_to_nearest_even(executor, rng):
    x = draw(rng, N, "f32", -300, 300)
    x[:8] = [np.nan, np.inf, -np.inf, -0.7, 0.7, -1e10, 2.5, 65519.0]
    ints, small, bytes_ = np.zeros(3 * N, np.int32), np.zeros(N, np.int8), np.zeros(N, np.uint8)
    halves = np.zeros(N, np.float16)
    brains = np.zeros(N, DType.BF16.numpy)
    flags = np.zeros(N, bool)
    launch(executor, casts, N, x, ints, small, bytes_, halves, brains, flags, N)
    np.testing.assert_array_equal(ints[:N], saturated(x, np.int32))
    np.testing.assert_array_equal(ints[N : 2 * N], saturated(x, np.int32))
    np.testing.assert_array_equal(ints[2 * N :], saturated(np.floor(x), np.int32))
    np.testing.assert_array_equal(small, saturated(x, np.int8))
    np.testing.assert_array_equal(bytes_, saturated(x, np.uint8))
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(halves, x.astype(np.float16))
    expected_bf16 = x.astype(DType.BF16.numpy).astype(np.float32)
    np.testing.assert_array_equal(brains.astype(np.float32), expected_bf16)
    np.testing.assert_array_equal(flags, x != 0)


@hg.kernel
def short_circuit(x: hg.Array[hg.float32], hits: hg.Array[hg.int32], out: hg.Array, n: hg.int32):
    i = hg.global_id()
    positive = i < n and x[i] > 0
    negative = i >= n or x[i] < 0
    value = x[i] if i < n else -1.0
    counted = i < n and hg.atomic_add(hits, 0, 1) >= 0
    out[4 * i] = positive
    out[4 * i + 1] = negative
    out[4 * i + 2] = value
    out[4 * i + 3] = counted


def test_and_or_and_ternary_short_circuit(executor, rng):
    # x has N elements and the launch BLOCK > N lanes: a load at i >= N would be out of bounds
    # (the reference backend raises MemoryAccessError), and an atomic would count too often.
    x = draw(rng, N, "f32")
    x[0] = 0.0
    hits = np.zeros(1, np.int32)
    out = np.zeros(4 * BLOCK, np.float32)
    launch(executor, short_circuit, BLOCK, x, hits, out, N)
    got = out.reshape(BLOCK, 4)
    inside = np.arange(BLOCK) < N
    padded = np.concatenate([x, np.full(BLOCK - N, np.nan, np.float32)])
    np.testing.assert_array_equal(got[:, 0], inside & (padded > 0))
    np.testing.assert_array_equal(got[:, 1], ~inside | (padded < 0))
    np.testing.assert_array_equal(got[:, 2], np.where(inside, padded, -1.0))
    np.testing.assert_array_equal(got[:, 3], inside)
    assert hits[0] == N


@hg.kernel
def mixed(a: hg.Array[hg.int32], b: hg.Array[hg.float32], c: hg.Array[hg.uint8],
          d: hg.Array[hg.int8], out: hg.Array[hg.float64], n: hg.int32):  # fmt: skip
    i = hg.global_id()
    if i < n:
        out[i] = a[i] + b[i] * 0.5  # int + float: float32
        out[n + i] = c[i] + d[i]  # u8 + i8: the signed type of the width (wraps)
        out[2 * n + i] = c[i] + 1000  # a literal takes the array's type: u8 wraps
        out[3 * n + i] = a[i] * 0.1  # a float literal with an int: float32


def test_mixed_types_promote(executor, rng):
    a = draw(rng, N, "i32", -100, 100)
    b = draw(rng, N, "f32")
    c = draw(rng, N, "u8", 0, 255)
    d = draw(rng, N, "i8", -128, 127)
    out = np.zeros(4 * N)
    launch(executor, mixed, N, a, b, c, d, out, N)
    np.testing.assert_array_equal(out[:N], (a.astype(np.float32) + b * np.float32(0.5)))
    np.testing.assert_array_equal(out[N : 2 * N], (c.astype(np.int8) + d).astype(np.int8))
    np.testing.assert_array_equal(out[2 * N : 3 * N], (c + np.uint8(1000 % 256)))
    np.testing.assert_array_equal(out[3 * N :], a.astype(np.float32) * np.float32(0.1))


@hg.kernel
def promoted(a: hg.Scalar, b: hg.Scalar, out: hg.Array[hg.float64]):
    out[0] = a + b
    out[1] = a - 1
    out[2] = a * 0.5


@pytest.mark.parametrize(
    ("a", "b", "both", "with_int", "with_float"),
    [
        ("i32", "f32", "f32", "i32", "f32"),  # floats win
        ("u8", "i8", "i8", "u8", "f32"),  # same width, mixed signedness: signed
        ("u32", "i32", "i32", "u32", "f32"),
        ("i16", "u32", "u32", "i16", "f32"),  # wider wins
        ("f16", "bf16", "f32", "f16", "f16"),  # the two halves meet in float32
        ("f16", "i64", "f16", "f16", "f16"),  # a literal takes the other operand's type
        ("bool", "i8", "i8", "i32", "f32"),  # bool is the narrowest integer
        ("f32", "f64", "f64", "f32", "f32"),
        ("u64", "i64", "i64", "u64", "f32"),
    ],
)
def test_promotion_rules(a, b, both, with_int, with_float):
    program = promoted.specialize(a=a, b=b)
    (add,) = instructions(program, "add")
    (sub,) = instructions(program, "sub")
    (mul,) = instructions(program, "mul")
    assert (str(add.dtype), str(sub.dtype), str(mul.dtype)) == (both, with_int, with_float)
