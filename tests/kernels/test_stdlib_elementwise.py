"""The standard library's elementwise and linalg kernels, launched directly on every backend.

Each kernel runs as `kernel[grid, block](...)` against a NumPy float64 oracle. The contiguous
launches use the same signatures as `hologram.ops`, so they share its compiled programs.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

import hologram as hg
from hologram import kernels
from hologram.errors import KernelError
from hologram.isa import DType, Op
from hologram.isa.program import Arg
from hologram.kernels._elementwise import (
    FULL,
    LINE,
    ROW,
    SCALAR,
    STRIDED,
    grid_shape,
    grid_table,
    pitch_magic,
)
from hologram.kernels._fuse import fuse_elementwise

TOLERANCE = {"f16": 2e-3, "bf16": 1.6e-2, "f32": 2e-5, "f64": 1e-12}
COMPUTE = {"f16": "f32", "bf16": "f32", "f32": "f32", "f64": "f64"}
NO_LAYOUT = np.zeros(1, np.uint32)

_erf = np.vectorize(math.erf, otypes=[np.float64])

BINARY = {
    "vector/vector_add": np.add,
    "vector/vector_sub": np.subtract,
    "vector/vector_mul": np.multiply,
    "vector/vector_div": np.divide,
    "vector/vector_minimum": np.minimum,
    "vector/vector_maximum": np.maximum,
    "vector/vector_pow": np.power,
}
UNARY = {
    "activation/relu": lambda x: np.maximum(x, 0),
    "activation/sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "activation/tanh": np.tanh,
    "activation/gelu": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "math/abs": np.abs,
    "math/neg": np.negative,
    "math/sqrt": np.sqrt,
    "math/exp": np.exp,
    "math/log": np.log,
    "math/erf": _erf,
}
DOMAINS = {"math/sqrt": (0.0, 4.0), "math/log": (0.05, 4.0), "vector/vector_pow": (0.5, 2.0)}
FAMILIES = ("vector", "activation", "math", "convert", "linalg")


def numpy_dtype(dtype: str) -> np.dtype:
    return DType.of(dtype).numpy


def draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, key: str = "") -> np.ndarray:
    low, high = DOMAINS.get(key, (-3.0, 3.0))
    if DType.of(dtype).is_int:
        return rng.integers(int(low) - 60, int(high) + 60, size=shape).astype(numpy_dtype(dtype))
    return rng.uniform(low, high, size=shape).astype(numpy_dtype(dtype))


def check(got: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    assert got.dtype == numpy_dtype(dtype)
    if DType.of(dtype).is_int:
        np.testing.assert_array_equal(got, expected)
        return
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(got.astype(np.float64), expected, rtol=tol, atol=tol)


def launch(key: str, n: int, *args: object, executor: object) -> None:
    kernels.load(key)[hg.blocks(n), 256](*args, executor=executor)


# ---------------------------------------------------------------- contiguous launches
@pytest.mark.parametrize("dtype", ["f32", "f64", "f16"])
@pytest.mark.parametrize("key", list(BINARY))
def test_binary_kernel(executor, rng, key, dtype):
    n = 300
    a, b = draw(rng, (n,), dtype, key), draw(rng, (n,), dtype, key)
    if key == "vector/vector_div":
        b = np.where(np.abs(b.astype(np.float64)) < 0.25, 1, b).astype(b.dtype)
    out = np.empty(n, numpy_dtype(dtype))
    args = (a, b, out, n, NO_LAYOUT, DType.of(COMPUTE[dtype]), FULL, FULL, 0)
    launch(key, n, *args, executor=executor)
    check(out, BINARY[key](a.astype(np.float64), b.astype(np.float64)), dtype)


@pytest.mark.parametrize("dtype", ["f32", "f64", "bf16"])
@pytest.mark.parametrize("key", list(UNARY))
def test_unary_kernel(executor, rng, key, dtype):
    n = 300
    x = draw(rng, (n,), dtype, key)
    out = np.empty(n, numpy_dtype(dtype))
    args = (x, out, n, NO_LAYOUT, DType.of(COMPUTE[dtype]), FULL, 0)
    launch(key, n, *args, executor=executor)
    check(out, UNARY[key](x.astype(np.float64)), dtype)


@pytest.mark.parametrize(
    "key",
    ["vector/vector_add", "vector/vector_sub", "vector/vector_mul", "vector/vector_minimum",
     "vector/vector_maximum", "math/abs", "math/neg", "activation/relu"],
)  # fmt: skip
def test_integer_kernels_are_exact(executor, rng, key):
    n = 250
    x, y = draw(rng, (n,), "i32"), draw(rng, (n,), "i32")
    out = np.empty(n, np.int32)
    if key in BINARY:
        launch(key, n, x, y, out, n, NO_LAYOUT, DType.I32, FULL, FULL, 0, executor=executor)
        expected = BINARY[key](x, y)
    else:
        launch(key, n, x, out, n, NO_LAYOUT, DType.I32, FULL, 0, executor=executor)
        expected = UNARY[key](x).astype(np.int32)
    check(out, expected, "i32")


@pytest.mark.parametrize("dtype", ["i8", "i32", "i64", "u16"])
def test_integer_div_truncates_toward_zero(executor, dtype):
    dt = DType.of(dtype)
    info = np.iinfo(dt.numpy)
    a = np.array([7, -7, 7, -7, 5, 0, info.min, info.min, info.max, -1], dtype=np.int64)
    b = np.array([2, 2, -2, -2, 0, 3, -1, 2, 7, 0], dtype=np.int64)
    a, b = a.astype(dt.numpy), b.astype(dt.numpy)  # unsigned: negatives wrap
    out = np.empty(a.size, dt.numpy)
    launch("vector/vector_div", a.size, a, b, out, a.size, NO_LAYOUT, dt, FULL, FULL, 0,
           executor=executor)  # fmt: skip
    expected = [_wrap(_truncated(int(x), int(y)), dt) for x, y in zip(a, b, strict=True)]
    np.testing.assert_array_equal(out, np.array(expected).astype(dt.numpy))


def _truncated(x: int, y: int) -> int:
    """x / y rounded toward zero, 0 for y == 0 (exact, on Python ints)."""
    if y == 0:
        return 0
    quotient = abs(x) // abs(y)
    return quotient if (x < 0) == (y < 0) else -quotient


def _wrap(value: int, dtype: DType) -> int:
    """`value` wrapped into `dtype` (two's complement)."""
    bits = dtype.itemsize * 8
    value %= 1 << bits
    return value - (1 << bits) if dtype.is_signed and value >= 1 << (bits - 1) else value


# ---------------------------------------------------------------- broadcasting
def test_strided_and_scalar_reads(executor, rng):
    # out (3, 4, 5) = a (3, 1, 5) + b (1, 4, 1): both STRIDED over dims (3, 4, 5), with element
    # strides (5, 0, 1) and (0, 1, 0).
    # A 2-D launch: x along the last dimension (n = 5), y over the 12 rows.
    a, b = draw(rng, (3, 1, 5), "f32"), draw(rng, (1, 4, 1), "f32")
    layout = grid_table((3, 4, 5), [(5, 0, 1), (0, 1, 0)])
    grid, block = grid_shape((3, 4, 5))
    out = np.empty(60, np.float32)
    for a_read, b_read in [(STRIDED, STRIDED), (LINE, ROW)]:
        out[:] = np.nan
        args = (a.reshape(-1), b.reshape(-1), out, 5, layout, DType.F32, a_read, b_read, 3)
        kernels.load("vector/vector_add")[grid, block](*args, executor=executor)
        check(out.reshape(3, 4, 5), a.astype(np.float64) + b.astype(np.float64), "f32")
    scalar = np.array([2.5], np.float64)
    x = draw(rng, (7,), "f64")
    out64 = np.empty(7, np.float64)
    launch("vector/vector_mul", 7, x, scalar, out64, 7, NO_LAYOUT, DType.F64, FULL, SCALAR, 0,
           executor=executor)  # fmt: skip
    check(out64, x * 2.5, "f64")


def test_cast_converts_and_broadcasts(executor, rng):
    x = draw(rng, (5,), "f32")
    out = np.empty(5, np.float16)
    launch("convert/cast", 5, x, out, 5, NO_LAYOUT, FULL, 0, executor=executor)
    check(out, x.astype(np.float16).astype(np.float64), "f16")
    ints = np.array([-3, 1 << 20], np.int32)
    wide = np.empty(2, np.float64)
    launch("convert/cast", 2, ints[1:], wide, 2, NO_LAYOUT, SCALAR, 0, executor=executor)
    check(wide, np.full(2, float(1 << 20)), "f64")


# ---------------------------------------------------------------- linalg
@pytest.mark.parametrize(
    ("dtype", "trans_a", "trans_b"), [("f32", False, False), ("f64", True, True)]
)
def test_matmul_kernel(executor, rng, dtype, trans_a, trans_b):
    batch, m, n, k = 2, 3, 5, 4
    a = draw(rng, (batch, k, m) if trans_a else (batch, m, k), dtype)
    b = draw(rng, (batch, n, k) if trans_b else (batch, k, n), dtype)
    c = np.empty(batch * m * n, numpy_dtype(dtype))
    kernels.load("linalg/matmul")[1, 1](
        a.reshape(-1), b.reshape(-1), c, m, n, k, batch, trans_a, trans_b, executor=executor
    )
    a64 = np.swapaxes(a, 1, 2) if trans_a else a
    b64 = np.swapaxes(b, 1, 2) if trans_b else b
    expected = np.matmul(a64.astype(np.float64), b64.astype(np.float64))
    np.testing.assert_allclose(c.reshape(batch, m, n), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_axpby_and_scale_kernels(executor, rng, dtype):
    n = 40
    a, b = draw(rng, (n,), dtype), draw(rng, (n,), dtype)
    alpha, beta = numpy_dtype(dtype).type(0.5), numpy_dtype(dtype).type(-2.0)
    out = np.empty(n, numpy_dtype(dtype))
    launch("linalg/axpby", n, a, b, out, n, NO_LAYOUT, alpha, beta, DType.of(dtype), FULL, FULL,
           0, executor=executor)  # fmt: skip
    check(out, 0.5 * a.astype(np.float64) - 2.0 * b.astype(np.float64), dtype)
    launch("linalg/scale", n, a, out, n, NO_LAYOUT, alpha, DType.of(dtype), FULL, 0,
           executor=executor)  # fmt: skip
    check(out, 0.5 * a.astype(np.float64), dtype)


# ---------------------------------------------------------------- fusion
def _func(key: str, name: str) -> object:
    import sys

    return getattr(sys.modules[kernels.load(key).fn.__module__], name)


def test_fused_kernel_composes_funcs_over_any_earlier_values(executor, rng):
    mul = _func("vector/vector_mul", "mul_value")
    relu = _func("activation/relu", "relu_value")
    add = _func("vector/vector_add", "add_value")
    # relu(a * b) + a * b: step 0 is value 2, step 1 value 3.
    fused = fuse_elementwise("relu_plus", [(mul, (0, 1)), (relu, (2,)), (add, (3, 2))], 2)
    assert fuse_elementwise("relu_plus", [(mul, (0, 1)), (relu, (2,)), (add, (3, 2))], 2) is fused
    a, b = draw(rng, (50,), "bf16"), draw(rng, (50,), "bf16")
    out = np.empty(50, ml_dtypes.bfloat16)
    fused[1, 256](a, b, out, 50, NO_LAYOUT, DType.F32, FULL, FULL, 0, executor=executor)
    product = a.astype(np.float64) * b.astype(np.float64)
    check(out, np.maximum(product, 0) + product, "bf16")


def test_fused_kernel_rejects_bad_steps():
    add = _func("vector/vector_add", "add_value")
    with pytest.raises(KernelError, match="not computed before"):
        fuse_elementwise("bad", [(add, (0, 2))], 2)
    with pytest.raises(KernelError, match="identifier"):
        fuse_elementwise("not a name", [(add, (0, 1))], 2)


# ---------------------------------------------------------------- the library itself
def _elementwise_files() -> list[kernels.KernelFile]:
    return [kf for kf in kernels.discover() if kf.family in FAMILIES]


def test_every_declared_signature_lowers():
    found = _elementwise_files()
    assert {kf.key for kf in found} >= {*BINARY, *UNARY, "convert/cast", "linalg/matmul"}
    for kf in found:
        kernel = kf.load()
        assert kernel.signatures, f"{kf.key} declares no signatures"
        for signature in kernel.signatures:
            assert kernel.specialize(signature).instructions


@pytest.mark.parametrize("key", [*BINARY, *UNARY])
def test_contiguous_launch_is_one_load_per_input_and_no_loop(key):
    kernel = kernels.load(key)
    arity = 2 if key in BINARY else 1
    names = ("a", "b") if arity == 2 else ("x",)
    program = kernel.specialize({**dict.fromkeys(names, "f32"), "out": "f32", "compute": "f32"})
    loads = [inst for inst in program.instructions if inst.op is Op.LDG]
    assert len(loads) == arity
    assert all(inst.srcs[0] != Arg(program.param_index("layout")) for inst in loads)
    assert not any(inst.op is Op.LOOP for inst in program.instructions)


def test_pitch_magic_divides_every_u32_exactly(rng):
    # The STRIDED reads divide by multiplying (`pitch_quotient`); checked here in u64 NumPy
    # against integer division, at both ends of the u32 range and at random.
    numerators = np.concatenate(
        [np.arange(5000), 2**32 - 1 - np.arange(5000), rng.integers(0, 2**32, 20000)]
    ).astype(np.uint64)
    pitches = [*range(1, 1100), 2**16 + 1, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1]
    pitches += [int(p) for p in rng.integers(2, 2**32, 300)]
    for pitch in pitches:
        low, high, shift = (np.uint64(w) for w in pitch_magic(pitch))
        quotient = (((numerators * low) >> np.uint64(32)) + numerators * high) >> shift
        np.testing.assert_array_equal(quotient, numerators // np.uint64(pitch), err_msg=str(pitch))
    with pytest.raises(ValueError):
        pitch_magic(0)
