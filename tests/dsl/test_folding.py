"""Constant folding: folded values equal what the ISA computes, and weak literals stay exact.

`folding` computes one operation twice, once on typed constants (folded by the lowering)
and once on scalar parameters (computed by the reference backend); the two must agree bit
for bit, NaN included.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from dsl_helpers import instructions

import hologram as hg
from hologram.errors import KernelTypeError
from hologram.isa import DType, Imm

FLOAT_OPS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "min", "max", "abs", "neg",
             "round", "floor", "ceil", "trunc", "exp", "log", "sqrt", "tanh", "sigmoid", "lt",
             "ne", "to_i8")  # fmt: skip
INT_OPS = ("add", "sub", "mul", "floordiv", "mod", "pow3", "min", "max", "abs", "neg", "lshift",
           "rshift", "and", "or", "xor", "invert", "lt", "ne", "to_i8")  # fmt: skip
OPS = tuple(dict.fromkeys(FLOAT_OPS + INT_OPS))
FLOAT_PAIRS = [(2.5, -1.5), (-7.25, 2.0), (0.0, 0.0), (math.nan, 1.0), (math.inf, -math.inf),
               (1e30, 1e-30), (-0.5, 3.0), (300.7, -0.0)]  # fmt: skip
INT_PAIRS = [(7, -2), (-7, 2), (5, 0), (-128, -1), (100, 3), (-1, 33), (255, 7)]


@hg.func
def compute(x, y, op):
    """Operation number `op` (a Const: every branch but one folds away)."""
    if op == 0:
        r = x + y
    elif op == 1:
        r = x - y
    elif op == 2:
        r = x * y
    elif op == 3:
        r = x / y
    elif op == 4:
        r = x // y
    elif op == 5:
        r = x % y
    elif op == 6:
        r = abs(x) ** y
    elif op == 7:
        r = min(x, y)
    elif op == 8:
        r = max(x, y)
    elif op == 9:
        r = abs(x)
    elif op == 10:
        r = -x
    elif op == 11:
        r = round(x)
    elif op == 12:
        r = hg.floor(x)
    elif op == 13:
        r = hg.ceil(x)
    elif op == 14:
        r = hg.trunc(x)
    elif op == 15:
        r = hg.exp(x)
    elif op == 16:
        r = hg.log(x)
    elif op == 17:
        r = hg.sqrt(x)
    elif op == 18:
        r = hg.tanh(x)
    elif op == 19:
        r = hg.sigmoid(x)
    elif op == 20:
        r = x < y
    elif op == 21:
        r = x != y
    elif op == 22:
        r = hg.int8(x)
    elif op == 23:
        r = x**3
    elif op == 24:
        r = x << y
    elif op == 25:
        r = x >> y
    elif op == 26:
        r = x & y
    elif op == 27:
        r = x | y
    elif op == 28:
        r = x ^ y
    else:
        r = ~x
    return r


@hg.kernel
def folding(a: hg.Scalar, b: hg.Scalar, out: hg.Array, A: hg.Const, B: hg.Const,
            T: hg.Const[hg.dtype], op: hg.Const[int]):  # fmt: skip
    out[0] = compute(T(A), T(B), op)
    out[1] = compute(a, b, op)


OP_NUMBER = {name: k for k, name in enumerate(
    ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "min", "max", "abs", "neg", "round",
     "floor", "ceil", "trunc", "exp", "log", "sqrt", "tanh", "sigmoid", "lt", "ne", "to_i8",
     "pow3", "lshift", "rshift", "and", "or", "xor", "invert"))}  # fmt: skip


def cases() -> list[tuple[str, str, float | int, float | int]]:
    found = []
    for dtype in ("f32", "f64", "f16", "bf16"):
        found += [(dtype, op, a, b) for op in FLOAT_OPS for a, b in FLOAT_PAIRS]
    for dtype in ("i32", "u8", "i8", "i64", "u32"):
        found += [(dtype, op, a, b) for op in INT_OPS for a, b in INT_PAIRS]
    return found


@pytest.mark.parametrize("dtype", ["f32", "f64", "f16", "bf16", "i32", "u8", "i8", "i64", "u32"])
def test_folded_constants_equal_the_computed_values(dtype):
    from hologram import Executor

    executor = Executor(backend="reference")
    dt = DType.of(dtype)
    for case_dtype, op, a, b in cases():
        if case_dtype != dtype:
            continue
        with np.errstate(all="ignore"):  # integers wrap into the dtype, as T(A) does
            x, y = np.asarray([a, b]).astype(dt.numpy)
        out = np.zeros(2, dt.numpy)
        folding[1, 1](x, y, out, a, b, dt, OP_NUMBER[op], executor=executor)
        program = folding.specialize(a=dt, b=dt, out=dt, A=a, B=b, T=dt, op=OP_NUMBER[op])
        first_store = next(k for k, ins in enumerate(program.instructions) if ins.op.value == "stg")
        folded_ops = {ins.op.value for ins in program.instructions[:first_store]}
        assert folded_ops <= {"mov", "cvt"}, f"{op}({a}, {b}) on {dtype} did not fold"
        folded, computed = out.astype(np.float64)
        same = folded == computed or (math.isnan(folded) and math.isnan(computed))
        assert same, f"{op}({a}, {b}) on {dtype}: folded {folded}, computed {computed}"


@hg.kernel
def literals(x: hg.Array, wide: hg.Array[hg.int64], out: hg.Array[hg.float64],
             small: hg.Array[hg.uint8], flags: hg.Array[hg.bool_]):  # fmt: skip
    third = 1 / 3
    out[0] = x[0] * 0.1  # exactly 0.1 for float64 x, float32's 0.1 for float32 x
    out[1] = x[0] + third
    wide[0] = wide[1] + 2**40 + (1 << 41)
    flags[0] = small[0] < 300  # always true: no uint8 is 300 or more
    flags[1] = small[0] > -1
    flags[2] = small[0] == 256


def test_weak_literals_keep_their_exact_value_until_they_meet_a_type(executor):
    x = np.array([1.0])
    wide = np.array([0, 5], np.int64)
    out = np.zeros(2)
    small = np.array([255], np.uint8)
    flags = np.zeros(3, bool)
    literals[1, 1](x, wide, out, small, flags, executor=executor)
    assert out[0] == 0.1 and out[1] == 1.0 + 1 / 3
    assert wide[0] == 5 + 2**40 + 2**41
    np.testing.assert_array_equal(flags, [True, True, False])
    program = literals.specialize(x="f32")
    assert not instructions(program, "setp")  # the out-of-range compares folded
    immediates = {s.value for ins in instructions(program, "mul") for s in ins.srcs
                  if isinstance(s, Imm)}  # fmt: skip
    assert immediates == {float(np.float32(0.1))}


@hg.kernel
def half(x: hg.Array[hg.float16], out: hg.Array[hg.float16]):
    out[0] = x[0] * 2.0 + 1  # literals take float16: no widening to float32


def test_literals_take_the_type_of_the_other_operand():
    program = half.specialize()
    arithmetic = instructions(program, "mul") + instructions(program, "add")
    assert {str(ins.dtype) for ins in arithmetic} == {"f16"}
    assert not instructions(program, "cvt")


@hg.kernel
def bad_shift(out: hg.Array[hg.int64], k: hg.Const[int]):
    out[0] = 1 << k


@hg.kernel
def bad_power(out: hg.Array[hg.int64], k: hg.Const[int]):
    out[0] = 3**k


def test_constant_expressions_without_a_value_raise_kernel_type_errors():
    with pytest.raises(KernelTypeError, match="negative shift count"):
        bad_shift.specialize(out="i64", k=-1)
    with pytest.raises(KernelTypeError, match="too large"):
        bad_power.specialize(out="i64", k=10**6)
    assert bad_power.specialize(k=40)  # 3 ** 40 fits Python; it wraps into int64 at the store
