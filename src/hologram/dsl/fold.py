"""Constant folding with the ISA's semantics, so a folded value equals what the program computes.

Two kinds of constants fold here (see `values.py`):

- *weak* constants (numbers written in the source, `Const` numbers) fold as Python numbers:
  exact integers and float64, so `1 << 40` and `1.0 / 3.0` lose nothing before they meet a
  typed value;
- *typed* constants fold in their dtype, as the ISA instruction would: integers wrap, integer
  `//` and `%` by zero give 0, floats follow IEEE 754 (no Python exceptions: `log(0.0)` is
  `-inf`, `0.0 / 0.0` is NaN), and `min`/`max` propagate NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from hologram.isa.dtypes import DType

Number = int | float | bool

MAX_SHIFT = 256
"""Weak integer shifts beyond this many bits give the same bits in every ISA type."""
MAX_WEAK_INT_BITS = 4096
"""A weak integer constant expression may not grow beyond this many bits."""

CMP: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}  # fmt: skip


class FoldError(ValueError):
    """A constant expression has no value (the lowering reports it as a KernelTypeError)."""


def int_range(dtype: DType) -> tuple[int, int]:
    """The smallest and largest value of an integer (or bool) dtype."""
    if dtype.is_bool:
        return 0, 1
    bits = dtype.itemsize * 8
    if dtype.is_signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def convert(value: Number, dtype: DType) -> Number:
    """`value` converted to `dtype` exactly as the ISA's `cvt` converts.

    Integers wrap; floats to integers truncate toward zero and saturate (NaN gives 0); to a
    float type rounds to nearest-even; to bool is `value != 0`.
    """
    if dtype.is_bool:
        return bool(value)
    if dtype.is_float:
        return _to_float(value, dtype)
    if isinstance(value, float):
        if math.isnan(value):
            return 0
        lo, hi = int_range(dtype)
        if math.isinf(value):
            return hi if value > 0 else lo
        return min(max(int(value), lo), hi)
    bits = dtype.itemsize * 8
    wrapped = int(value) & ((1 << bits) - 1)
    if dtype.is_signed and wrapped >= 1 << (bits - 1):
        wrapped -= 1 << bits
    return wrapped


def _to_float(value: Number, dtype: DType) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        if isinstance(value, (bool, int)):
            # Through a 64-bit integer where it fits, so the value is rounded once.
            if -(1 << 63) <= value < 1 << 63:
                return float(np.asarray(value, np.int64).astype(dtype.numpy))
            if 0 <= value < 1 << 64:
                return float(np.asarray(value, np.uint64).astype(dtype.numpy))
            return math.copysign(math.inf, value)
        return float(np.asarray(value, np.float64).astype(dtype.numpy))


# ---------------------------------------------------------------- binary operators
def weak_binary(op: str, x: int | float, y: int | float) -> int | float:
    """`x op y` on two weak constants, as Python computes it (without its exceptions)."""
    if isinstance(x, int) and isinstance(y, int) and op != "truediv":
        if op in ("floordiv", "mod") and y == 0:
            return 0  # as the ISA's integer division by zero
        if op in ("lshift", "rshift"):
            if y < 0:
                raise FoldError(f"negative shift count {y}")
            y = min(y, MAX_SHIFT)
        result = _INT_OPS[op](x, y)
        if result.bit_length() > MAX_WEAK_INT_BITS:
            raise FoldError("the constant expression is too large")
        return result
    if op in _BITWISE:
        raise FoldError(f"bitwise `{op}` needs integers")
    return float_binary(op, float(x), float(y))


def typed_binary(op: str, x: Number, y: Number, dtype: DType) -> Number:
    """`x op y` on two values of `dtype`, as the ISA computes it, converted to `dtype`."""
    if dtype.is_bool:
        return convert(_INT_OPS[op](bool(x), bool(y)), dtype)
    if dtype.is_float:
        if op == "floordiv":
            return _float_floordiv(float(x), float(y), dtype)
        if op == "mod":
            rem = convert(_fmod(x, y), dtype)
            if rem != 0 and (rem < 0) != (y < 0):
                rem = convert(rem + y, dtype)
            return rem
        return convert(float_binary(op, float(x), float(y)), dtype)
    x, y = int(x), int(y)
    if op in ("floordiv", "mod") and y == 0:
        return 0
    if op in ("lshift", "rshift"):
        y %= dtype.itemsize * 8
    return convert(_INT_OPS[op](x, y), dtype)


def _fmod(x: Number, y: Number) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.fmod(np.float64(x), np.float64(y)))


def _float_floordiv(x: float, y: float, dtype: DType) -> float:
    """Float `//` step by step as the lowering computes it, each step rounded to `dtype`."""

    def r(value: float) -> float:
        return convert(value, dtype)  # type: ignore[return-value]

    if y == 0:
        return r(float_binary("truediv", x, y))
    mod = r(_fmod(x, y))
    div = r(float_binary("truediv", r(x - mod), y))
    if mod != 0 and (mod < 0) != (y < 0):
        div = r(div - 1.0)
    with np.errstate(invalid="ignore"):
        floor = r(float(np.floor(div)))
        up = r(div - floor) > 0.5
    return r(floor + 1.0) if up else floor


def float_binary(op: str, x: float, y: float) -> float:
    """`x op y` in float64 with IEEE 754 results where Python would raise."""
    with np.errstate(all="ignore"):
        a, b = np.float64(x), np.float64(y)
        if op == "floordiv":
            if b == 0.0:
                return float(a / b)
            return float(np.floor_divide(a, b))
        if op == "mod":
            return float(np.remainder(a, b))
        return float(_FLOAT_OPS[op](a, b))


_BITWISE = ("and", "or", "xor", "lshift", "rshift")
_INT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b,
    "and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
    "lshift": lambda a, b: a << b, "rshift": lambda a, b: a >> b,
}  # fmt: skip
_FLOAT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
}  # fmt: skip


def power(x: Number, y: Number, dtype: DType | None) -> Number:
    """`x ** y` on constants of `dtype` (None: weak Python numbers).

    Integers with a non-negative exponent are exact (wrapping in an integer dtype); anything
    else is float64 with IEEE results (`(-8.0) ** (1/3)` is NaN, as the ISA's `pow`).
    """
    ints = isinstance(x, int) and isinstance(y, int) and not (dtype and dtype.is_float)
    if ints and y >= 0:  # type: ignore[operator]
        if dtype is not None:
            return convert(pow(int(x), int(y), 1 << (dtype.itemsize * 8)), dtype)
        if abs(x) > 1 and y * x.bit_length() > MAX_WEAK_INT_BITS:  # type: ignore[operator, union-attr]
            raise FoldError("the constant expression is too large")
        return x**y  # type: ignore[operator]
    with np.errstate(all="ignore"):
        value = float(np.power(np.float64(x), np.float64(y)))
    return value if dtype is None else convert(value, dtype)


# ---------------------------------------------------------------- functions
def _sigmoid(x: np.float64) -> np.float64:
    return 1.0 / (1.0 + np.exp(-x))


_MATH: dict[str, Callable[[Any], Any]] = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "rsqrt": lambda x: 1.0 / np.sqrt(x),
    "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "sigmoid": _sigmoid,
    "erf": lambda x: math.erf(float(x)), "floor": np.floor, "ceil": np.ceil,
    "round": np.round, "trunc": np.trunc,
}  # fmt: skip


def math_function(name: str, x: float) -> float:
    """`name(x)` in float64 (`round` is half to even, as the ISA's), IEEE results throughout."""
    with np.errstate(all="ignore"):
        return float(_MATH[name](np.float64(x)))


def min_max(name: str, x: Number, y: Number) -> Number:
    """`min` or `max` of two constants, NaN if either is NaN (the ISA's rule, not Python's)."""
    for v in (x, y):
        if isinstance(v, float) and math.isnan(v):
            return v
    return min(x, y) if name == "min" else max(x, y)


def compare(op: str, x: Number, y: Number) -> bool:
    """`x op y` (eq ne lt le gt ge) on two constants; comparisons with NaN are false but `ne`."""
    return bool(CMP[op](x, y))
