"""Every StreamOp, on every backend, gives exactly what NumPy gives on the whole input."""

from __future__ import annotations

import numpy as np
import pytest

import hologram as hg
import hologram.ops as hops
from hologram.errors import DTypeError
from hologram.isa import Builder
from hologram.stream import (
    CHUNK,
    COUNT,
    OFFSET,
    OUT,
    AddConst,
    ArraySink,
    Cast,
    Clip,
    ComputePipeline,
    KernelOp,
    MulConst,
    OpsFunction,
    ProgramOp,
    ReLU,
    ScalarMul,
    StreamError,
    parse_op,
)

POOL = 1 << 14


def run(executor: object, ops: list, data: np.ndarray, *, sink: bool = False) -> np.ndarray:
    """`data` through `ops`, kept in the pool or (sink=True) through the ring into an array."""
    pipeline = ComputePipeline(executor, pool_bytes=POOL, ops=ops)
    if not sink:
        return pipeline.execute(data, 9).to_numpy()
    out = np.empty(data.size, pipeline.out_dtype(data.dtype))
    pipeline.execute(data, 9, sink=ArraySink(out))
    return out


@pytest.mark.parametrize("sink", [False, True], ids=["kept", "sink"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_ops_match_numpy(
    executor: object, rng: np.random.Generator, dtype: type, sink: bool
) -> None:
    x = (rng.standard_normal(20_011) * 3).astype(dtype)
    cases = [
        ([ReLU()], np.maximum(x, 0)),
        ([ScalarMul(0.5)], x * dtype(0.5)),
        ([MulConst(-1.25)], x * dtype(-1.25)),
        ([AddConst(2.5)], x + dtype(2.5)),
        ([Clip(-1.0, 2.0)], np.clip(x, dtype(-1.0), dtype(2.0))),
        ([ReLU(), ScalarMul(0.5), AddConst(1.0), Clip(1.0, 2.0)],
         np.clip(np.maximum(x, 0) * dtype(0.5) + dtype(1.0), dtype(1.0), dtype(2.0))),
    ]  # fmt: skip
    for ops, expected in cases:
        got = run(executor, ops, x, sink=sink)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected, err_msg=repr(ops))


def test_integer_streams(executor: object, rng: np.random.Generator) -> None:
    x = rng.integers(-1000, 1000, 9001).astype(np.int32)
    np.testing.assert_array_equal(run(executor, [ReLU(), AddConst(7)], x), np.maximum(x, 0) + 7)
    np.testing.assert_array_equal(
        run(executor, [Clip(-5, 5), MulConst(3)], x), np.clip(x, -5, 5) * 3
    )
    with pytest.raises(DTypeError, match="Cast first"):
        run(executor, [ScalarMul(0.5)], x)


@pytest.mark.parametrize("sink", [False, True], ids=["kept", "sink"])
def test_casts_match_numpy(executor: object, rng: np.random.Generator, sink: bool) -> None:
    x = (rng.standard_normal(12_345) * 100).astype(np.float32)
    got = run(executor, [Cast("float64"), ScalarMul(1 / 3)], x, sink=sink)
    np.testing.assert_array_equal(got, x.astype(np.float64) * (1 / 3))
    wide = x.astype(np.float64) / 7
    np.testing.assert_array_equal(
        run(executor, [Cast("float32")], wide, sink=sink), wide.astype(np.float32)
    )
    ints = rng.integers(-(2**20), 2**20, 5000).astype(np.int32)
    got = run(executor, [Cast("float32"), ScalarMul(0.25), Cast("float64")], ints, sink=sink)
    np.testing.assert_array_equal(
        got, (ints.astype(np.float32) * np.float32(0.25)).astype(np.float64)
    )


def test_hologram_ops_functions(executor: object, rng: np.random.Generator) -> None:
    x = rng.standard_normal(10_001).astype(np.float32)
    np.testing.assert_array_equal(run(executor, [OpsFunction(hops.abs)], x), np.abs(x))
    np.testing.assert_array_equal(run(executor, [OpsFunction(hops.sub, 1.0, CHUNK)], x), 1 - x)
    np.testing.assert_array_equal(
        run(executor, [OpsFunction(hops.maximum, 0.25)], x), np.maximum(x, 0.25)
    )
    got = run(executor, [OpsFunction(hops.tanh)], x)
    np.testing.assert_allclose(got, np.tanh(x.astype(np.float64)), rtol=2e-6, atol=2e-7)
    with pytest.raises(StreamError, match="element count"):
        run(executor, [OpsFunction(hops.add, np.ones(3, np.float32))], x)


@hg.kernel
def add_position(x: hg.Array, n: hg.uint32, start: hg.uint64):
    """x[i] += its index in the whole stream (start is the chunk's first element)."""
    i = hg.global_id()
    if i < n:
        x[i] = x[i] + x.dtype(hg.uint64(i) + start)


@hg.kernel
def halve_into(x: hg.Array, out: hg.Array, n: hg.uint32):
    """out[i] = x[i] / 2 in out's dtype."""
    i = hg.global_id()
    if i < n:
        out[i] = out.dtype(x[i]) * out.dtype(0.5)


def test_user_kernels_get_the_chunk_and_its_gauge(
    executor: object, rng: np.random.Generator
) -> None:
    x = rng.standard_normal(30_000)
    got = run(executor, [KernelOp(add_position, CHUNK, COUNT, OFFSET)], x, sink=True)
    np.testing.assert_array_equal(got, x + np.arange(x.size, dtype=np.float64))
    into = KernelOp(halve_into, CHUNK, OUT, COUNT, dtype="float32")
    got = run(executor, [into, ReLU()], x)
    np.testing.assert_array_equal(got, np.maximum(x.astype(np.float32) * np.float32(0.5), 0))


def affine_program() -> object:
    """y = 2 * x + 1 in place, one lane per element."""
    b = Builder("affine_in_place")
    x = b.buffer("x", "f32", access="readwrite")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(x, i, b.add(b.mul(b.ldg(x, i), 2.0), 1.0))
    return b.build()


def test_isa_programs(executor: object, rng: np.random.Generator) -> None:
    x = rng.standard_normal(7777).astype(np.float32)
    got = run(executor, [ProgramOp(affine_program(), CHUNK, COUNT)], x, sink=True)
    np.testing.assert_array_equal(got, x * np.float32(2) + np.float32(1))


def test_command_line_ops() -> None:
    assert [repr(parse_op(s)) for s in ("relu", "scale=0.5", "clip=-1:1", "cast=float64")] == [
        "relu", "scale=0.5", "clip=-1.0:1.0", "cast=float64"
    ]  # fmt: skip
    for bad in ("gelu", "scale=x", "clip=2:1", "cast=notatype"):
        with pytest.raises(StreamError):
            parse_op(bad)
