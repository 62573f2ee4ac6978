"""Corpus cases for per-lane values: arithmetic, logic, compares, conversions, geometry."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import ml_dtypes
import numpy as np

from hologram.isa import Builder, DType, LaunchConfig, Op
from hologram.isa import geometry as geo
from programs.case import Case

Body = Callable[[Builder, list], list]
Oracle = Callable[..., list[np.ndarray]]
Generator = Callable[[np.random.Generator, int], list[np.ndarray]]


def elementwise(
    name: str,
    in_dtypes: Sequence[str],
    out_dtype: str,
    body: Body,
    oracle: Oracle,
    generate: Generator,
    n: int = 300,
    block: int = 64,
    rtol: float | None = None,
    atol: float | None = None,
) -> Case:
    """A case whose lane i loads x_j[i], computes outputs with `body` and stores output k at
    y[k*n + i]. `oracle` maps the inputs (as given) to the list of expected outputs."""
    out_count: list[int] = []

    def build():
        b = Builder(name)
        xs = [b.buffer(f"x{j}", dt) for j, dt in enumerate(in_dtypes)]
        y = b.buffer("y", out_dtype, access="write")
        count = b.scalar("n", "u32")
        i = b.global_id()
        with b.if_(b.setp("lt", i, count)):
            outs = body(b, [b.ldg(x, i) for x in xs])
            for k, value in enumerate(outs):
                b.stg(y, b.add(i, k * n), value)
        out_count[:] = [len(outs)]
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        if not out_count:
            build()
        inputs = generate(rng, n)
        return [*inputs, np.zeros(out_count[0] * n, DType.of(out_dtype).numpy), n]

    def expected(args: list) -> list[np.ndarray]:
        outs = oracle(*args[: len(in_dtypes)])
        return [np.concatenate([np.asarray(o).reshape(-1) for o in outs])]

    config = LaunchConfig.for_elements(n, block)
    return Case(name, build, make_args, config, [len(in_dtypes)], expected, rtol, atol)


# ---------------------------------------------------------------- exact integer oracles
def wrap(values: np.ndarray, dtype: str) -> np.ndarray:
    """Python integers (an object array) reduced two's-complement style into `dtype`."""
    info = np.iinfo(DType.of(dtype).numpy)
    span = int(info.max) - int(info.min) + 1
    reduced = [(int(v) - int(info.min)) % span + int(info.min) for v in np.ravel(values)]
    return np.array(reduced, dtype=DType.of(dtype).numpy)


def as_ints(a: np.ndarray) -> np.ndarray:
    """An integer array as an object array of Python ints (exact arithmetic)."""
    return np.array([int(v) for v in a], dtype=object)


def tdiv(a: int, b: int) -> int:
    """C-style division: truncate toward zero; by zero gives 0."""
    if b == 0:
        return 0
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def tmod(a: int, b: int) -> int:
    """C-style remainder (sign of the dividend); by zero gives 0."""
    return 0 if b == 0 else a - b * tdiv(a, b)


def _ints(dtype: str, low: int | None = None, high: int | None = None) -> Generator:
    info = np.iinfo(DType.of(dtype).numpy)
    lo = int(info.min) if low is None else low
    hi = int(info.max) if high is None else high

    def generate(rng: np.random.Generator, n: int) -> list[np.ndarray]:
        return [rng.integers(lo, hi, n, endpoint=True, dtype=DType.of(dtype).numpy)]

    return generate


def _pair(first: Generator, second: Generator) -> Generator:
    return lambda rng, n: [*first(rng, n), *second(rng, n)]


def _with_zeros(gen: Generator) -> Generator:
    """Sprinkle zeros (every 7th element) into every input so division by zero is covered."""

    def generate(rng: np.random.Generator, n: int) -> list[np.ndarray]:
        arrays = gen(rng, n)
        for a in arrays:
            a[::7] = 0
        return arrays

    return generate


def _floats(dtype: str, low: float, high: float, count: int = 1) -> Generator:
    def generate(rng: np.random.Generator, n: int) -> list[np.ndarray]:
        return [rng.uniform(low, high, n).astype(DType.of(dtype).numpy) for _ in range(count)]

    return generate


# ---------------------------------------------------------------- integer arithmetic
def _int_arith_case(dtype: str) -> Case:
    def body(b: Builder, v: list) -> list:
        x, y = v
        return [
            b.add(x, y),
            b.sub(x, y),
            b.mul(x, y),
            b.div(x, y),
            b.mod(x, y),
            b.min(x, y),
            b.max(x, y),
            b.mad(x, y, x),
            b.unary(Op.ABS, x),
            b.unary(Op.NEG, x),
        ]

    def oracle(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        xi, yi = as_ints(x), as_ints(y)
        q = [tdiv(a, c) for a, c in zip(xi, yi, strict=True)]
        r = [tmod(a, c) for a, c in zip(xi, yi, strict=True)]
        return [
            wrap(xi + yi, dtype),
            wrap(xi - yi, dtype),
            wrap(xi * yi, dtype),
            wrap(np.array(q, dtype=object), dtype),
            wrap(np.array(r, dtype=object), dtype),
            np.minimum(x, y),
            np.maximum(x, y),
            wrap(xi * yi + xi, dtype),
            wrap(np.abs(xi), dtype),
            wrap(-xi, dtype),
        ]

    gen = _with_zeros(_pair(_ints(dtype), _ints(dtype)))
    return elementwise(f"int_arith_{dtype}", [dtype, dtype], dtype, body, oracle, gen)


def _small_divisor_case(dtype: str) -> Case:
    """Division and remainder with small divisors (including -1 on the most negative value)."""

    def body(b: Builder, v: list) -> list:
        x, y = v
        return [b.div(x, y), b.mod(x, y)]

    def oracle(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        xi, yi = as_ints(x), as_ints(y)
        q = np.array([tdiv(a, c) for a, c in zip(xi, yi, strict=True)], dtype=object)
        r = np.array([tmod(a, c) for a, c in zip(xi, yi, strict=True)], dtype=object)
        return [wrap(q, dtype), wrap(r, dtype)]

    info = np.iinfo(DType.of(dtype).numpy)
    low = -5 if info.min < 0 else 0

    def generate(rng: np.random.Generator, n: int) -> list[np.ndarray]:
        (x,) = _ints(dtype)(rng, n)
        (y,) = _ints(dtype, low, 5)(rng, n)
        x[:4] = info.min
        y[:4] = -1 if info.min < 0 else 1
        return [x, y]

    return elementwise(f"int_div_small_{dtype}", [dtype, dtype], dtype, body, oracle, generate)


def _bitwise_case(dtype: str) -> Case:
    bits = DType.of(dtype).itemsize * 8
    signed = np.iinfo(DType.of(dtype).numpy).min < 0

    def body(b: Builder, v: list) -> list:
        x, y, s = v
        return [
            b.binary(Op.AND, x, y),
            b.binary(Op.OR, x, y),
            b.binary(Op.XOR, x, y),
            b.unary(Op.NOT, x),
            b.binary(Op.SHL, x, s),
            b.binary(Op.SHR, x, s),
        ]

    def oracle(x: np.ndarray, y: np.ndarray, s: np.ndarray) -> list[np.ndarray]:
        xi, yi = as_ints(x), as_ints(y)
        unsigned_x = np.array([v % (1 << bits) for v in xi], dtype=object)
        amounts = [int(v) % bits for v in s]
        shr = []
        for value, raw, k in zip(xi, unsigned_x, amounts, strict=True):
            # Python's >> on a negative int is arithmetic; on the raw bits it is logical.
            shr.append(value >> k if signed else raw >> k)
        return [
            wrap(np.array([a & c for a, c in zip(xi, yi, strict=True)], dtype=object), dtype),
            wrap(np.array([a | c for a, c in zip(xi, yi, strict=True)], dtype=object), dtype),
            wrap(np.array([a ^ c for a, c in zip(xi, yi, strict=True)], dtype=object), dtype),
            wrap(np.array([~a for a in xi], dtype=object), dtype),
            wrap(
                np.array([a << k for a, k in zip(unsigned_x, amounts, strict=True)], dtype=object),
                dtype,
            ),
            wrap(np.array(shr, dtype=object), dtype),
        ]

    low = -2 * bits if signed else 0
    gen = _pair(_pair(_ints(dtype), _ints(dtype)), _ints(dtype, low, 2 * bits))
    return elementwise(f"bitwise_{dtype}", [dtype] * 3, dtype, body, oracle, gen)


# ---------------------------------------------------------------- float arithmetic
def _float_arith_case(dtype: str) -> Case:
    def body(b: Builder, v: list) -> list:
        x, y, z = v
        return [
            b.add(x, y),
            b.sub(x, y),
            b.mul(x, y),
            b.div(x, z),
            b.mod(x, z),
            b.min(x, y),
            b.max(x, y),
            b.mad(x, y, z),
            b.fma(x, y, z),
            b.unary(Op.ABS, x),
            b.unary(Op.NEG, x),
            b.unary(Op.FLOOR, x),
            b.unary(Op.CEIL, x),
            b.unary(Op.ROUND, x),
            b.unary(Op.TRUNC, x),
        ]

    def oracle(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> list[np.ndarray]:
        x, y, z = (a.astype(np.float64) for a in (x, y, z))
        return [
            x + y,
            x - y,
            x * y,
            x / z,
            np.fmod(x, z),
            np.minimum(x, y),
            np.maximum(x, y),
            x * y + z,
            x * y + z,
            np.abs(x),
            -x,
            np.floor(x),
            np.ceil(x),
            np.rint(x),
            np.trunc(x),
        ]

    np_dtype = DType.of(dtype).numpy

    def generate(rng: np.random.Generator, n: int) -> list[np.ndarray]:
        x = rng.uniform(-8, 8, n)
        x[:8] = [0.5, 1.5, 2.5, -0.5, -2.5, np.nan, 3.0, -0.0]
        y = rng.uniform(-8, 8, n)
        y[8] = np.nan
        z = rng.uniform(0.5, 3, n) * rng.choice([-1, 1], n)
        return [x.astype(np_dtype), y.astype(np_dtype), z.astype(np_dtype)]

    return elementwise(f"float_arith_{dtype}", [dtype] * 3, dtype, body, oracle, generate)


_TRANSCENDENTALS = (Op.EXP, Op.TANH, Op.SIGMOID, Op.ERF, Op.SIN, Op.COS)
_POSITIVE_TRANSCENDENTALS = (Op.LOG, Op.SQRT, Op.RSQRT)


def _transcendental_case(dtype: str) -> Case:
    def body(b: Builder, v: list) -> list:
        x, p = v
        outs = [b.unary(op, x) for op in _TRANSCENDENTALS]
        outs += [b.unary(op, p) for op in _POSITIVE_TRANSCENDENTALS]
        outs.append(b.binary(Op.POW, p, x))
        return outs

    def oracle(x: np.ndarray, p: np.ndarray) -> list[np.ndarray]:
        x, p = x.astype(np.float64), p.astype(np.float64)
        erf = np.array([math.erf(v) for v in x])
        return [
            np.exp(x),
            np.tanh(x),
            1.0 / (1.0 + np.exp(-x)),
            erf,
            np.sin(x),
            np.cos(x),
            np.log(p),
            np.sqrt(p),
            1.0 / np.sqrt(p),
            p**x,
        ]

    gen = _pair(_floats(dtype, -4, 4), _floats(dtype, 0.05, 6))
    return elementwise(f"transcendental_{dtype}", [dtype] * 2, dtype, body, oracle, gen)


# ---------------------------------------------------------------- logic, compares, select
_CMPS = ("eq", "ne", "lt", "le", "gt", "ge")
_NP_CMPS = (np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal)


def _compare_case(dtype: str) -> Case:
    def body(b: Builder, v: list) -> list:
        x, y = v
        outs = [b.cvt(b.setp(cmp, x, y), "u8") for cmp in _CMPS]
        chosen = b.sel(b.setp("lt", x, y), x, y)
        return [*outs, b.cvt(b.setp("eq", chosen, b.min(x, y)), "u8")]

    def oracle(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        xf, yf = x.astype(np.float64), y.astype(np.float64)
        outs = [f(xf, yf).astype(np.uint8) for f in _NP_CMPS]
        chosen = np.where(xf < yf, xf, yf)
        # sel picks y when the compare is false (NaN), while min propagates NaN: never equal.
        return [*outs, (chosen == np.minimum(xf, yf)).astype(np.uint8)]

    def generate(rng: np.random.Generator, n: int) -> list[np.ndarray]:
        np_dtype = DType.of(dtype).numpy
        x = rng.integers(-4, 5, n).astype(np_dtype) if dtype != "u32" else None
        if x is None:
            x = rng.integers(0, 5, n).astype(np_dtype)
            y = rng.integers(0, 5, n).astype(np_dtype)
        else:
            y = rng.integers(-4, 5, n).astype(np_dtype)
        if DType.of(dtype).is_float:
            x[::11] = np.nan
            y[::13] = np.nan
        return [x, y]

    return elementwise(f"compare_{dtype}", [dtype] * 2, "u8", body, oracle, generate)


def _bool_logic_case() -> Case:
    def body(b: Builder, v: list) -> list:
        p, q = v
        return [
            b.binary(Op.AND, p, q),
            b.binary(Op.OR, p, q),
            b.binary(Op.XOR, p, q),
            b.unary(Op.NOT, p),
            b.sel(p, q, b.unary(Op.NOT, q)),
            b.setp("eq", p, q),
        ]

    def oracle(p: np.ndarray, q: np.ndarray) -> list[np.ndarray]:
        return [p & q, p | q, p ^ q, ~p, np.where(p, q, ~q), p == q]

    def generate(rng: np.random.Generator, n: int) -> list[np.ndarray]:
        return [rng.integers(0, 2, n).astype(bool), rng.integers(0, 2, n).astype(bool)]

    return elementwise("bool_logic", ["bool", "bool"], "bool", body, oracle, generate)


# ---------------------------------------------------------------- conversions
def _convert_oracle(x: np.ndarray, dst: str) -> np.ndarray:
    """The ISA conversion rules, written independently of any backend."""
    with np.errstate(over="ignore"):
        return _convert_values(x, dst)


def _convert_values(x: np.ndarray, dst: str) -> np.ndarray:
    target = DType.of(dst)
    source = DType.of(x.dtype)
    if target.is_bool:
        return x.astype(np.float64) != 0 if source.is_float else x != 0
    if source.is_bool:
        return x.astype(np.int64).astype(target.numpy)
    if target.is_float:
        # Overflow to infinity must show, so the oracle rounds into the target type too.
        if source.is_float:
            return x.astype(np.float64).astype(target.numpy)
        return np.array([float(int(v)) for v in x]).astype(target.numpy)
    info = np.iinfo(target.numpy)
    if source.is_float:
        out = []
        for v in x.astype(np.float64):
            if math.isnan(v):
                out.append(0)
            elif v >= info.max:
                out.append(int(info.max))
            elif v <= info.min:
                out.append(int(info.min))
            else:
                out.append(math.trunc(v))
        return np.array(out, dtype=object).astype(target.numpy)
    return wrap(as_ints(x), dst)


def _source_values(rng: np.random.Generator, src: str, n: int) -> np.ndarray:
    dtype = DType.of(src)
    if dtype.is_bool:
        return rng.integers(0, 2, n).astype(bool)
    if dtype.is_float:
        finite = float(ml_dtypes.finfo(dtype.numpy).max)
        scale = min(finite / 4, 1e12)
        values = rng.choice([1.0, 300.0, 7e4, scale], n) * rng.uniform(-1, 1, n)
        values[:6] = [np.nan, np.inf, -np.inf, 0.5, -0.5, 2.5]
        with np.errstate(over="ignore"):  # 7e4 overflows float16 on purpose
            return values.astype(dtype.numpy)
    return _ints(src)(rng, n)[0]


def _convert_case(src: str, dsts: Sequence[str]) -> list[Case]:
    cases = []
    for dst in dsts:

        def body(b: Builder, v: list, dst: str = dst) -> list:
            return [b.cvt(v[0], dst)]

        def oracle(x: np.ndarray, dst: str = dst) -> list[np.ndarray]:
            return [_convert_oracle(x, dst)]

        def generate(rng: np.random.Generator, n: int, src: str = src) -> list[np.ndarray]:
            return [_source_values(rng, src, n)]

        cases.append(elementwise(f"cvt_{src}_to_{dst}", [src], dst, body, oracle, generate))
    return cases


_CONVERSIONS = {
    "f32": ["i8", "u8", "i32", "u32", "i64", "f16", "bf16", "f64", "bool"],
    "f64": ["i16", "u16", "i64", "u64", "f32", "bf16", "f16"],
    "f16": ["f32", "bf16", "i32", "u8"],
    "bf16": ["f16", "f64", "i16"],
    "i32": ["i8", "u8", "u32", "i64", "f16", "bf16", "f32", "bool"],
    "i8": ["u32", "i64", "u8", "f32"],
    "u32": ["i32", "i16", "u64", "f32", "f64"],
    "i64": ["i32", "u16", "f64", "f32"],
    "u64": ["i64", "u8", "f64"],
    "bool": ["f32", "i32", "u8"],
}


# ---------------------------------------------------------------- special registers, geometry
def _geometry_case() -> Case:
    def body(b: Builder, v: list) -> list:
        a, p, q = v
        return [
            b.geometry(Op.CLASS_OF, a),
            b.geometry(Op.PAGE_OF, a),
            b.geometry(Op.BYTE_OF, a),
            b.geometry(Op.MIRROR, p),
            b.geometry(Op.NEIGHBOR, p, k=0),
            b.geometry(Op.NEIGHBOR, p, k=1),
            b.geometry(Op.ADDR, p, q, a),
        ]

    def oracle(a: np.ndarray, p: np.ndarray, q: np.ndarray) -> list[np.ndarray]:
        a, p, q = (x.astype(np.int64) for x in (a, p, q))
        return [
            (a % geo.POOL_BYTES) // geo.CLASS_BYTES,
            (a % geo.CLASS_BYTES) // geo.PAGE_BYTES,
            a % geo.PAGE_BYTES,
            95 - p % 96,
            (p + 95) % 96,
            (p + 1) % 96,
            (p % 96) * geo.CLASS_BYTES + (q % 48) * geo.PAGE_BYTES + a % 256,
        ]

    def generate(rng: np.random.Generator, n: int) -> list[np.ndarray]:
        a = rng.integers(0, 2**32, n, dtype=np.uint32)
        a[: n // 2] %= geo.POOL_BYTES
        p = rng.integers(0, 2**32, n, dtype=np.uint32)
        p[: n // 2] %= 200
        q = rng.integers(0, 100, n, dtype=np.uint32)
        return [a, p, q]

    return elementwise("geometry", ["u32"] * 3, "u32", body, oracle, generate)


def _sreg_case(name: str, grid: tuple[int, ...], block: tuple[int, ...]) -> Case:
    """Every lane writes its special registers at its global linear index."""
    config = LaunchConfig(grid, block)
    gx, gy, gz = config.grid
    bx, by, bz = config.block
    total_x, total_y = gx * bx, gy * by
    lanes = total_x * total_y * gz * bz
    names = ("lane_id", "block_id", "block_dim", "grid_dim", "global_id")

    def build():
        b = Builder(name)
        out = b.buffer("out", "u32", access="write")
        gid = [b.global_id(axis) for axis in range(3)]
        linear = b.mad(b.mad(gid[2], total_y, gid[1]), total_x, gid[0])
        base = b.mul(linear, 15)
        slot = 0
        for reg in names:
            for axis in range(3):
                b.stg(out, b.add(base, slot), b.sreg(reg, axis))
                slot += 1
        return b.build()

    def make_args(rng: np.random.Generator) -> list:
        return [np.full(lanes * 15, 0xDEADBEEF, np.uint32)]

    def expected(args: list) -> list[np.ndarray]:
        z, y, x = np.meshgrid(
            np.arange(gz * bz), np.arange(total_y), np.arange(total_x), indexing="ij"
        )
        table = np.zeros((gz * bz, total_y, total_x, 15), np.int64)
        dims = ((x, bx, gx), (y, by, gy), (z, bz, gz))
        for axis, (g, bd, gd) in enumerate(dims):
            table[..., 0 + axis] = g % bd
            table[..., 3 + axis] = g // bd
            table[..., 6 + axis] = bd
            table[..., 9 + axis] = gd
            table[..., 12 + axis] = g
        return [table.reshape(-1).astype(np.uint32)]

    return Case(name, build, make_args, config, [0], expected)


def _all_cases() -> list[Case]:
    cases = [_int_arith_case(dt) for dt in ("i8", "u8", "i16", "i32", "u32", "i64", "u64")]
    cases += [_small_divisor_case(dt) for dt in ("i8", "i32", "i64", "u16")]
    cases += [_bitwise_case(dt) for dt in ("i8", "u16", "i32", "u32", "i64", "u64")]
    cases += [_float_arith_case(dt) for dt in ("f16", "bf16", "f32", "f64")]
    cases += [_transcendental_case(dt) for dt in ("f16", "bf16", "f32", "f64")]
    cases += [_compare_case(dt) for dt in ("f32", "f16", "i64", "u32")]
    cases.append(_bool_logic_case())
    for src, dsts in _CONVERSIONS.items():
        cases += _convert_case(src, dsts)
    cases.append(_geometry_case())
    cases.append(_sreg_case("sreg_1d", (3,), (40,)))
    cases.append(_sreg_case("sreg_2d", (3, 2), (8, 4)))
    cases.append(_sreg_case("sreg_3d", (2, 3, 2), (4, 2, 2)))
    return cases


COMPUTE_CASES: list[Case] = _all_cases()
