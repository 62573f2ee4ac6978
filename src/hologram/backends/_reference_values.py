"""Value semantics of the Atlas ISA on NumPy arrays: the arithmetic half of the reference backend.

Every function takes and returns arrays whose dtype is the instruction's storage dtype. The
rules are those of `docs/isa.mdx`: integers wrap, integer division truncates and gives 0 for a
zero divisor, shifts use the amount modulo the bit width, float16 and bfloat16 are computed in
float32 and rounded to nearest-even after every instruction, conversions saturate and round as
specified. Rounding into a narrow float type is always done from an exact (or round-to-odd)
float64 value, so no result suffers double rounding where the ISA asks for a single rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np

from hologram.errors import DTypeError
from hologram.isa.dtypes import DType
from hologram.isa.opcodes import Op

HALF_TYPES = frozenset({DType.F16, DType.BF16})

_ArrayFn = Callable[..., np.ndarray]


# ---------------------------------------------------------------- rounding into a dtype
def compute_dtype(dtype: DType) -> np.dtype:
    """The NumPy dtype arithmetic of `dtype` is carried out in (float32 for 16-bit floats)."""
    return np.dtype(np.float32) if dtype in HALF_TYPES else dtype.numpy


def _round_to_odd_float32(x: np.ndarray) -> np.ndarray:
    """float64 -> float32 rounding to odd: an inexact result gets an odd last bit.

    Rounding to odd at 24 bits and then to nearest at 8 bits equals one rounding to nearest.
    """
    nearest = x.astype(np.float32)
    inexact = (nearest.astype(np.float64) != x) & np.isfinite(nearest) & ~np.isnan(x)
    even = (nearest.view(np.uint32) & 1) == 0
    fix = inexact & even
    if fix.any():
        toward = np.where(x > nearest.astype(np.float64), np.inf, -np.inf).astype(np.float32)
        nearest = np.where(fix, np.nextafter(nearest, toward), nearest)
    return nearest


def round_float64(x: np.ndarray, dtype: DType) -> np.ndarray:
    """Round float64 values to nearest-even in float `dtype` (one rounding; overflow gives inf)."""
    if dtype is DType.F64:
        return x.astype(np.float64, copy=False)
    with np.errstate(over="ignore"):
        if dtype is DType.BF16:
            return _round_to_odd_float32(x).astype(dtype.numpy)
        # NumPy converts float64 straight to float32 and float16 with one correct rounding.
        return x.astype(dtype.numpy)


def round_compute(x: np.ndarray, dtype: DType) -> np.ndarray:
    """Store a value computed in `compute_dtype(dtype)` into `dtype`."""
    with np.errstate(over="ignore"):
        return x.astype(dtype.numpy, copy=False)


def _exact_float64(x: np.ndarray) -> np.ndarray:
    """Integers as float64, exact or (beyond 2**53) with a sticky bit that keeps rounding right.

    Bits below bit 12 of a 64-bit magnitude are folded into one sticky bit at bit 11, which makes
    the value exactly representable while preserving any later rounding to 51 bits or fewer.
    """
    if x.dtype.itemsize < 8:
        return x.astype(np.float64)
    negative = x < 0 if x.dtype.kind == "i" else np.zeros(x.shape, bool)
    raw = x.astype(np.uint64)  # two's complement bits; negating them gives the magnitude
    magnitude = np.where(negative, np.negative(raw), raw)
    low = magnitude & np.uint64(0xFFF)
    sticky = (magnitude & ~np.uint64(0xFFF)) | np.where(low != 0, np.uint64(0x800), np.uint64(0))
    big = magnitude >= np.uint64(2**53)
    value = np.where(big, sticky, magnitude).astype(np.float64)
    return np.where(negative, -value, value)


# ---------------------------------------------------------------- constants and conversions
def constant(value: int | float | bool, dtype: DType) -> np.generic:
    """An immediate of `dtype`: integers wrap, floats round to nearest-even."""
    if dtype.is_bool:
        return np.bool_(bool(value))
    if dtype.is_int:
        info = np.iinfo(dtype.numpy)
        span = int(info.max) - int(info.min) + 1
        return dtype.numpy.type((int(value) - int(info.min)) % span + int(info.min))
    return round_float64(np.array([float(value)]), dtype)[0]


def convert(x: np.ndarray, src: DType, dst: DType) -> np.ndarray:
    """`cvt`: any dtype to any dtype, following the ISA's conversion rules."""
    if dst.is_bool:
        return x.astype(np.float32) != 0 if src in HALF_TYPES else x != 0
    if src.is_bool:
        return round_float64(x.astype(np.float64), dst) if dst.is_float else x.astype(dst.numpy)
    if dst.is_float:
        if src.is_float or dst is DType.F64:
            # Float widening is exact; integer to float64 rounds once, to nearest-even.
            return round_float64(x.astype(np.float64), dst)
        return round_float64(_exact_float64(x), dst)
    if src.is_float:
        return _float_to_int(x.astype(np.float64), dst)
    # Integer to integer: keep the low bits, then sign- or zero-extend (a C cast).
    return x.astype(dst.numpy)


def _float_to_int(x: np.ndarray, dst: DType) -> np.ndarray:
    info = np.iinfo(dst.numpy)
    truncated = np.trunc(x)
    high = truncated >= float(info.max)
    low = truncated <= float(info.min)
    nan = np.isnan(x)
    inside = np.where(high | low | nan, 0.0, truncated)
    out = inside.astype(dst.numpy)
    out = np.where(high, info.max, out)
    out = np.where(low, info.min, out)
    return np.where(nan, 0, out).astype(dst.numpy)


# ---------------------------------------------------------------- integer arithmetic
def _int_div_mod(a: np.ndarray, b: np.ndarray, dtype: DType) -> tuple[np.ndarray, np.ndarray]:
    """C division (truncating) and remainder; a zero divisor gives 0 for both."""
    zero = b == 0
    if not dtype.is_signed:
        safe = np.where(zero, 1, b).astype(dtype.numpy)
        q, r = a // safe, a % safe
        return np.where(zero, 0, q).astype(dtype.numpy), np.where(zero, 0, r).astype(dtype.numpy)
    minus_one = b == -1
    safe = np.where(zero | minus_one, 1, b).astype(dtype.numpy)
    floor = a // safe
    remainder = a - floor * safe
    bump = (remainder != 0) & ((a < 0) != (safe < 0))
    q = floor + bump.astype(dtype.numpy)
    # x / -1 is -x, which wraps for the most negative value (NumPy's // would overflow).
    q = np.where(minus_one, np.negative(a), q)
    q = np.where(zero, 0, q).astype(dtype.numpy)
    r = np.where(zero, 0, a - q * b).astype(dtype.numpy)
    return q, r


def _shift(a: np.ndarray, b: np.ndarray, dtype: DType, left: bool) -> np.ndarray:
    bits = dtype.itemsize * 8
    unsigned = np.dtype(f"u{dtype.itemsize}")
    amount = (b.astype(unsigned) & unsigned.type(bits - 1)).astype(dtype.numpy)
    return (np.left_shift(a, amount) if left else np.right_shift(a, amount)).astype(dtype.numpy)


# ---------------------------------------------------------------- fused multiply-add
def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """s = fl(a + b) and the exact error a + b - s (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _round_to_odd_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b in float64 rounded to odd."""
    s, err = _two_sum(a, b)
    fix = (err != 0) & np.isfinite(s) & ((s.view(np.uint64) & np.uint64(1)) == 0)
    if fix.any():
        s = np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    return s


def _two_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p = fl(a * b) and the exact error (Veltkamp splitting and Dekker's product)."""
    p = a * b
    split = 134217729.0  # 2**27 + 1
    ta, tb = split * a, split * b
    ah = ta - (ta - a)
    bh = tb - (tb - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _fma_float64(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """a * b + c with one rounding (Boldo and Melquiond's emulation with rounding to odd).

    Elements where the splitting could overflow or the product's error could underflow,
    and non-finite ones, are computed exactly with fractions instead.
    """
    magnitude = np.abs(a * b)
    safe = (
        np.isfinite(a)
        & np.isfinite(b)
        & np.isfinite(c)
        & (np.abs(a) < 2.0**995)
        & (np.abs(b) < 2.0**995)
        & (np.abs(c) < 2.0**1020)
        & (magnitude < 2.0**1020)
        & ((magnitude > 2.0**-960) | (a == 0) | (b == 0))
    )
    uh, ul = _two_product(np.where(safe, a, 0.0), np.where(safe, b, 0.0))
    th, tl = _two_sum(np.where(safe, c, 0.0), uh)
    out = th + _round_to_odd_sum(tl, ul)
    for i in np.flatnonzero(~safe):
        out[i] = _fma_exact(float(a[i]), float(b[i]), float(c[i]))
    return out


def _fma_exact(a: float, b: float, c: float) -> float:
    from fractions import Fraction

    if not (math.isfinite(a) and math.isfinite(b)):
        return a * b + c
    if not math.isfinite(c):
        return c  # a finite product cannot cancel an infinity (or a NaN)
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    if exact == 0:
        return a * b + c  # the sign of a zero result follows IEEE addition of the terms
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def fma(a: np.ndarray, b: np.ndarray, c: np.ndarray, dtype: DType) -> np.ndarray:
    """Fused multiply-add with a single rounding into `dtype`."""
    a64, b64, c64 = (v.astype(np.float64) for v in (a, b, c))
    with np.errstate(all="ignore"):
        if dtype is DType.F64:
            return _fma_float64(a64, b64, c64)
        # A product of two float32 values is exact in float64; the sum is rounded to odd so
        # that the final rounding into the narrow type is the only one.
        return round_float64(_round_to_odd_sum(a64 * b64, c64), dtype)


# ---------------------------------------------------------------- erf
_ERF_NODES_PER_UNIT = 16
_ERF_LIMIT = 6.0  # erf(x) rounds to +-1 in float64 beyond this
_ERF_TERMS = 14


@cache
def _erf_table() -> tuple[np.ndarray, np.ndarray]:
    """erf at the nodes j/16 (from the C library) and the Taylor coefficients around them.

    d^(n+1)/dx^(n+1) erf(x) = 2/sqrt(pi) * (-1)^n * H_n(x) * exp(-x^2), with H_n the
    physicists' Hermite polynomials, so erf(x0 + h) = erf(x0) + sum_n c_n h^(n+1) with
    c_n = 2/sqrt(pi) * exp(-x0^2) * (-1)^n * H_n(x0) / (n+1)!.
    """
    count = int(_ERF_LIMIT * _ERF_NODES_PER_UNIT) + 1
    base = np.empty(count)
    coefficients = np.empty((_ERF_TERMS, count))
    for j in range(count):
        x0 = j / _ERF_NODES_PER_UNIT
        base[j] = math.erf(x0)
        scale = 2.0 / math.sqrt(math.pi) * math.exp(-x0 * x0)
        previous, hermite = 0.0, 1.0  # H_{-1} (unused) and H_0
        for n in range(_ERF_TERMS):
            coefficients[n, j] = scale * (-1) ** n * hermite / math.factorial(n + 1)
            previous, hermite = hermite, 2.0 * x0 * hermite - 2.0 * n * previous
    return base, coefficients


def erf(x: np.ndarray) -> np.ndarray:
    """The error function in float64 (within 2 ulp), vectorised.

    erf is expanded in a Taylor series around the nearest multiple x0 of 1/16 (0 below 1/16),
    where erf(x0) comes from the C library; |x - x0| <= 1/16 makes 14 terms enough.
    """
    x = np.asarray(x, dtype=np.float64)
    magnitude = np.abs(x)
    inside = magnitude < _ERF_LIMIT
    clipped = np.where(inside, magnitude, 0.0)
    node = np.rint(clipped * _ERF_NODES_PER_UNIT).astype(np.int64)
    # Below the first node the plain Maclaurin series (node 0) avoids cancelling against erf(x0).
    node = np.where(clipped < 1.0 / _ERF_NODES_PER_UNIT, 0, node)
    h = clipped - node / _ERF_NODES_PER_UNIT  # exact: x and the node are within a factor 2
    base, coefficients = _erf_table()
    acc = np.zeros_like(h)
    for n in range(_ERF_TERMS - 1, -1, -1):
        acc = coefficients[n][node] + h * acc
    out = np.where(inside, base[node] + h * acc, 1.0)
    out = np.where(np.isnan(x), np.nan, out)
    return np.copysign(out, x)


# ---------------------------------------------------------------- instruction tables
def _float_unary(fn: _ArrayFn) -> _ArrayFn:
    """A transcendental evaluated in float64 and rounded into the compute type."""

    def apply(a: np.ndarray, dtype: DType) -> np.ndarray:
        wide = fn(a.astype(np.float64))
        if dtype is DType.F64:
            return wide
        # 16-bit floats are computed in float32 and then rounded again, as the ISA specifies.
        with np.errstate(over="ignore"):
            return wide.astype(np.float32).astype(dtype.numpy)

    return apply


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


_TRANSCENDENTAL: dict[Op, _ArrayFn] = {
    Op.EXP: _float_unary(np.exp),
    Op.LOG: _float_unary(np.log),
    Op.SQRT: _float_unary(np.sqrt),
    Op.RSQRT: _float_unary(lambda x: 1.0 / np.sqrt(x)),
    Op.SIN: _float_unary(np.sin),
    Op.COS: _float_unary(np.cos),
    Op.TANH: _float_unary(np.tanh),
    Op.SIGMOID: _float_unary(_sigmoid),
    Op.ERF: _float_unary(erf),
}

_FLOAT_ROUNDING: dict[Op, _ArrayFn] = {
    Op.FLOOR: np.floor,
    Op.CEIL: np.ceil,
    Op.ROUND: np.rint,  # half to even
    Op.TRUNC: np.trunc,
}


def unary(op: Op, a: np.ndarray, dtype: DType) -> np.ndarray:
    """A one-source value instruction (ABS NEG FLOOR CEIL ROUND TRUNC NOT and transcendentals)."""
    with np.errstate(all="ignore"):
        if op in _TRANSCENDENTAL:
            return _TRANSCENDENTAL[op](a, dtype)
        if op is Op.NOT:
            return np.logical_not(a) if dtype.is_bool else np.invert(a)
        wide = a.astype(compute_dtype(dtype), copy=False)
        if op is Op.ABS:
            out = np.abs(wide)
        elif op is Op.NEG:
            out = np.negative(wide)
        elif op in _FLOAT_ROUNDING:
            out = _FLOAT_ROUNDING[op](wide)
        else:
            raise DTypeError(f"{op.value} is not a one-source value instruction")
        return round_compute(out, dtype)


_INT_BINARY: dict[Op, _ArrayFn] = {
    Op.ADD: np.add,
    Op.SUB: np.subtract,
    Op.MUL: np.multiply,
    Op.MIN: np.minimum,
    Op.MAX: np.maximum,
}
_FLOAT_BINARY: dict[Op, _ArrayFn] = {
    **_INT_BINARY,
    Op.DIV: np.divide,
    Op.MOD: np.fmod,  # the sign of the dividend
    Op.POW: np.power,
}
_LOGIC: dict[Op, tuple[_ArrayFn, _ArrayFn]] = {
    Op.AND: (np.logical_and, np.bitwise_and),
    Op.OR: (np.logical_or, np.bitwise_or),
    Op.XOR: (np.logical_xor, np.bitwise_xor),
}


def binary(op: Op, a: np.ndarray, b: np.ndarray, dtype: DType) -> np.ndarray:
    """A two-source value instruction of `dtype` (arithmetic, logic, shifts, POW)."""
    with np.errstate(all="ignore"):
        if op in _LOGIC:
            logical, bitwise = _LOGIC[op]
            return logical(a, b) if dtype.is_bool else bitwise(a, b)
        if op is Op.SHL or op is Op.SHR:
            return _shift(a, b, dtype, left=op is Op.SHL)
        if dtype.is_int:
            if op is Op.DIV or op is Op.MOD:
                return _int_div_mod(a, b, dtype)[0 if op is Op.DIV else 1]
            return _INT_BINARY[op](a, b).astype(dtype.numpy, copy=False)
        if op is Op.POW:
            return _pow(a, b, dtype)
        wide = compute_dtype(dtype)
        out = _FLOAT_BINARY[op](a.astype(wide, copy=False), b.astype(wide, copy=False))
        return round_compute(out, dtype)


def _pow(a: np.ndarray, b: np.ndarray, dtype: DType) -> np.ndarray:
    wide = np.power(a.astype(np.float64), b.astype(np.float64))
    if dtype is DType.F64:
        return wide
    with np.errstate(over="ignore"):
        return wide.astype(np.float32).astype(dtype.numpy)


def ternary(op: Op, a: np.ndarray, b: np.ndarray, c: np.ndarray, dtype: DType) -> np.ndarray:
    """MAD (a*b+c, rounded after the product and after the sum) and FMA (one rounding)."""
    with np.errstate(all="ignore"):
        if op is Op.FMA:
            return fma(a, b, c, dtype)
        wide = compute_dtype(dtype)
        a, b, c = (v.astype(wide, copy=False) for v in (a, b, c))
        return round_compute(np.add(np.multiply(a, b), c), dtype)


_COMPARES: dict[str, _ArrayFn] = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}


def compare(cmp: str, a: np.ndarray, b: np.ndarray, dtype: DType) -> np.ndarray:
    """SETP: a predicate; every compare with NaN is false except `ne`."""
    wide = compute_dtype(dtype)
    with np.errstate(all="ignore"):
        return _COMPARES[cmp](a.astype(wide, copy=False), b.astype(wide, copy=False))


def reduce(op: str, values: np.ndarray, dtype: DType) -> np.generic:
    """A block reduction of `values`; integers wrap, 16-bit floats accumulate in float32."""
    wide = compute_dtype(dtype)
    data = values.astype(wide, copy=False)
    with np.errstate(all="ignore"):
        if op == "add":
            total = np.add.reduce(data, dtype=wide)
        elif op == "mul":
            total = np.multiply.reduce(data, dtype=wide)
        elif op == "min":
            total = np.minimum.reduce(data)
        elif op == "max":
            total = np.maximum.reduce(data)
        else:
            raise DTypeError(f"unknown reduction {op!r}")
    return np.asarray(total).astype(dtype.numpy)[()]


def atomic_combine(op: str, old: np.ndarray, value: np.ndarray, dtype: DType) -> np.ndarray:
    """The new memory value of an atomic `op` (add, min, max, exch) given the old one."""
    if op == "exch":
        return value
    arith = {"add": Op.ADD, "min": Op.MIN, "max": Op.MAX}.get(op)
    if arith is None:
        raise DTypeError(f"unknown atomic operation {op!r}")
    return binary(arith, old, value, dtype)
