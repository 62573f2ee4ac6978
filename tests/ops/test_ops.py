"""Elementwise ops against NumPy: every op in f32 and f64, a subset in f16, bf16 and integers."""

from __future__ import annotations

import numpy as np
import pytest
from ops_helpers import (
    BINARY_ORACLES,
    FLOATS,
    HALVES,
    UNARY_DOMAINS,
    UNARY_ORACLES,
    as_numpy,
    assert_close,
    draw,
    f64,
    truncating_div,
)

import hologram.ops as hops
from hologram.errors import DTypeError, ShapeError
from hologram.isa import LaunchConfig

BINARY = list(BINARY_ORACLES)
UNARY = list(UNARY_ORACLES)


def _binary_inputs(rng, op, shape_a, shape_b, dtype):
    if op == "pow":
        return draw(rng, shape_a, dtype, 0.5, 2.0), draw(rng, shape_b, dtype, -2.0, 2.0)
    a = draw(rng, shape_a, dtype)
    b = draw(rng, shape_b, dtype)
    if op == "div":
        b = np.where(np.abs(f64(b)) < 0.25, 1, b).astype(b.dtype)
    return a, b


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", BINARY)
def test_binary_float(executor, rng, op, dtype):
    a, b = _binary_inputs(rng, op, (3, 37), (3, 37), dtype)
    result = getattr(hops, op)(a, b, executor=executor)
    assert isinstance(result, np.ndarray)
    assert_close(result, BINARY_ORACLES[op](f64(a), f64(b)), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", UNARY)
def test_unary_float(executor, rng, op, dtype):
    x = draw(rng, (5, 41), dtype, *UNARY_DOMAINS.get(op, (-3.0, 3.0)))
    result = getattr(hops, op)(x, executor=executor)
    assert_close(result, UNARY_ORACLES[op](f64(x)), dtype)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("op", BINARY + UNARY)
def test_half_precision(executor, rng, op, dtype):
    if op in BINARY_ORACLES:
        a, b = _binary_inputs(rng, op, (300,), (300,), dtype)
        result = getattr(hops, op)(a, b, executor=executor)
        expected = BINARY_ORACLES[op](f64(a), f64(b))
    else:
        x = draw(rng, (300,), dtype, *UNARY_DOMAINS.get(op, (-3.0, 3.0)))
        result = getattr(hops, op)(x, executor=executor)
        expected = UNARY_ORACLES[op](f64(x))
    assert_close(result, expected, dtype)


@pytest.mark.parametrize("dtype", ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"])
@pytest.mark.parametrize("op", ["add", "maximum"])
def test_every_integer_dtype(executor, rng, op, dtype):
    a, b = draw(rng, (100,), dtype, -100, 100), draw(rng, (100,), dtype, -100, 100)
    assert_close(getattr(hops, op)(a, b, executor=executor), BINARY_ORACLES[op](a, b), dtype)


INT_CASES = [
    ("i32", op) for op in ("add", "sub", "mul", "div", "minimum", "maximum")
] + [("i32", "abs"), ("i32", "neg"), ("i32", "relu"), ("i8", "add"), ("u8", "sub"),
     ("i64", "mul"), ("u16", "div"), ("i8", "abs")]  # fmt: skip


@pytest.mark.parametrize(("dtype", "op"), INT_CASES)
def test_integer_ops_exact(executor, rng, dtype, op):
    a = draw(rng, (250,), dtype, -120, 120)
    if op in BINARY_ORACLES:
        b = draw(rng, (250,), dtype, -120, 120)
        result = getattr(hops, op)(a, b, executor=executor)
        expected = truncating_div(a, b) if op == "div" else BINARY_ORACLES[op](a, b)
    else:
        result = getattr(hops, op)(a, executor=executor)
        expected = UNARY_ORACLES[op](a).astype(a.dtype)
    assert_close(result, expected, dtype)


def test_integer_div_truncates_toward_zero_and_by_zero_gives_zero(executor):
    a = np.array([7, -7, 7, -7, 5, 0], dtype=np.int32)
    b = np.array([2, 2, -2, -2, 0, 3], dtype=np.int32)
    np.testing.assert_array_equal(hops.div(a, b, executor=executor), [3, -3, -3, 3, 0, 0])


def test_integer_add_wraps(executor):
    a = np.array([100, -100, 127], dtype=np.int8)
    np.testing.assert_array_equal(hops.add(a, a, executor=executor), (a + a))


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((4, 5), ()), ((4, 5), (5,)), ((4, 1), (1, 5)), ((2, 3, 4), (3, 1)), ((), ())],
)
def test_broadcasting(executor, rng, shape_a, shape_b):
    a, b = draw(rng, shape_a, "f64"), draw(rng, shape_b, "f64")
    assert_close(hops.sub(a, b, executor=executor), f64(a) - f64(b), "f64")


def test_non_contiguous_inputs(executor, rng):
    base = draw(rng, (6, 10), "f32")
    a, b = base[:, ::2], base.T[:5, :6].T
    assert not a.flags.c_contiguous and not b.flags.c_contiguous
    assert_close(hops.mul(a, b, executor=executor), f64(a) * f64(b), "f32")


def test_mixed_dtypes_promote_like_numpy(executor, rng):
    a, b = draw(rng, (64,), "i8", -50, 50), draw(rng, (64,), "f32")
    assert_close(hops.add(a, b, executor=executor), f64(a) + f64(b), "f32")
    x = draw(rng, (64,), "f32")
    assert_close(hops.mul(x, 2.5, executor=executor), f64(x) * 2.5, "f32")
    assert hops.add(np.int16(3), 2, executor=executor).dtype == np.int16


def test_chain_fuses_four_ops_in_one_launch(executor, rng):
    a, b, c, d = (draw(rng, (3, 50), "f32") for _ in range(4))
    steps = [("add", 1), ("mul", 2), ("sub", 3), ("relu", None)]
    prepared = hops.prepare("chain", steps, a, b, c, d, executor=executor)
    assert len(prepared.launches) == 1
    expected = np.maximum((f64(a) + f64(b)) * f64(c) - f64(d), 0)
    assert_close(prepared(), expected, "f32")
    program = hops.chain_program([("mul", 1), ("add", 2), ("tanh", None), ("mul", 3)], "f32", 4)
    out = np.empty_like(a)
    assert [p.name for p in program.params] == ["in0", "in1", "in2", "in3", "out", "n", "layout"]
    layout = np.zeros(1, np.uint32)  # read by STRIDED inputs only
    args = [a, b, c, d, out, a.size, layout]
    executor.launch(program, LaunchConfig.for_elements(a.size), args=args)
    assert_close(out, np.tanh(f64(a) * f64(b) + f64(c)) * f64(d), "f32")


def test_buffer_in_buffer_out_and_out_argument(executor, rng):
    from hologram import Buffer

    a, b = draw(rng, (8, 9), "f32"), draw(rng, (9,), "f32")
    result = hops.add(executor.from_numpy(a), b, executor=executor)
    assert isinstance(result, Buffer)
    assert_close(result, f64(a) + f64(b), "f32")
    out_array = np.empty((8, 9), np.float32)
    assert hops.add(a, b, executor=executor, out=out_array) is out_array
    assert_close(out_array, f64(a) + f64(b), "f32")
    out_buffer = executor.allocate((8, 9), "f32")
    assert hops.add(a, b, executor=executor, out=out_buffer) is out_buffer
    assert_close(out_buffer, f64(a) + f64(b), "f32")


def test_empty_inputs_return_empty_without_a_launch(executor):
    a, b = np.zeros((0, 3), np.float32), np.ones(3, np.float32)
    prepared = hops.prepare("add", a, b, executor=executor)
    assert prepared.launches == []
    assert as_numpy(prepared()).shape == (0, 3)
    assert hops.exp(np.zeros(0, np.float64), executor=executor).shape == (0,)


def test_one_program_serves_every_size(executor, rng):
    small = hops.prepare("add", draw(rng, (10,), "f32"), draw(rng, (10,), "f32"), executor=executor)
    big = hops.prepare("add", draw(rng, (999,), "f32"), draw(rng, (999,), "f32"), executor=executor)
    assert small.launches[0].program is big.launches[0].program


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda ex: hops.add(np.ones(3, bool), np.ones(3, bool), executor=ex), DTypeError),
        (lambda ex: hops.exp(np.ones(3, np.int32), executor=ex), DTypeError),
        (lambda ex: hops.pow(np.ones(3, np.int32), 2, executor=ex), DTypeError),
        (lambda ex: hops.add(np.ones(3), np.ones(4), executor=ex), ShapeError),
        (lambda ex: hops.add(np.ones(3, np.float16), _bf16(3), executor=ex), DTypeError),
        (lambda ex: hops.add(np.ones(3), np.ones(3), executor=ex, out=np.ones(4)), ShapeError),
        (
            lambda ex: hops.add(np.ones(3), np.ones(3), executor=ex, out=np.ones(3, "f4")),
            DTypeError,
        ),
    ],
)
def test_bad_inputs_raise_clear_errors(executor, call, error):
    with pytest.raises(error):
        call(executor)


def _bf16(n: int) -> np.ndarray:
    import ml_dtypes

    return np.ones(n, ml_dtypes.bfloat16)


def test_default_executor_and_buffer_executor(rng):
    a, b = draw(rng, (20,), "f32"), draw(rng, (20,), "f32")
    assert_close(hops.add(a, b), f64(a) + f64(b), "f32")
    from hologram import Executor

    ex = Executor("reference")
    result = hops.mul(ex.from_numpy(a), b)  # the Buffer's executor runs the op
    assert result.backend is ex.backend
    assert_close(result, f64(a) * f64(b), "f32")


def test_buffers_of_another_backend_are_refused():
    from hologram import Executor
    from hologram.backends import availability
    from hologram.errors import LaunchError

    if not availability("cpu")[0]:
        pytest.skip("needs the cpu backend beside the reference")
    reference, cpu = Executor("reference"), Executor("cpu")
    x = reference.from_numpy(np.ones(4, np.float32))
    with pytest.raises(LaunchError):
        hops.add(x, x, executor=cpu)
