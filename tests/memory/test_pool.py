"""Fixed-size pools: reads, writes, bounds, and streaming inputs of any length through them."""

from __future__ import annotations

import numpy as np
import pytest

from hologram.errors import AllocationError, DTypeError, LaunchError, PoolExhaustedError
from hologram.isa import Builder, Program

POOL_BYTES = 12_288


def affine_pool_program(dtype: str = "f32") -> Program:
    """pool[i] = pool[i] * scale + shift for i < n, reading and writing the pool in place."""
    b = Builder(f"pool_affine_{dtype}")
    pool = b.pool("pool", dtype)
    n = b.scalar("n", "u32")
    scale = b.scalar("scale", dtype)
    shift = b.scalar("shift", dtype)
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.pool_st(pool, i, b.add(b.mul(b.pool_ld(pool, i), scale), shift))
    return b.build()


def double_plus_one_program() -> Program:
    """pool[i] = pool[i] * 2 + 1 for i < n."""
    b = Builder("pool_double_plus_one")
    pool = b.pool("pool", "f32")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.pool_st(pool, i, b.add(b.mul(b.pool_ld(pool, i), 2.0), 1.0))
    return b.build()


def test_write_and_read_back(executor, rng) -> None:
    pool = executor.pool(1024)
    assert pool.size == 1024
    data = rng.standard_normal(16).astype(np.float32)
    end = pool.write(data, offset=64)
    assert end == 64 + data.nbytes
    np.testing.assert_array_equal(pool.read(16, "f32", offset=64), data)
    np.testing.assert_array_equal(pool.read(8, offset=64), data.view(np.uint8)[:8])


def test_out_of_range_access_names_size_offset_and_request(executor) -> None:
    pool = executor.pool(100)
    with pytest.raises(PoolExhaustedError, match=r"pool of 100 bytes.* 40 bytes at offset 80"):
        pool.write(np.zeros(10, np.float32), offset=80)
    with pytest.raises(PoolExhaustedError, match=r"pool of 100 bytes.* 104 bytes at offset 0"):
        pool.read(13, "f64")
    with pytest.raises(PoolExhaustedError):
        pool.read(1, offset=-1)


def test_free_and_misuse(executor) -> None:
    pool = executor.pool(64)
    pool.free()
    assert pool.is_freed
    with pytest.raises(AllocationError, match="was freed"):
        pool.read(1)
    with pytest.raises(AllocationError, match="double free"):
        pool.free()
    for bad in (0, -5, 1.5):
        with pytest.raises(AllocationError):
            executor.pool(bad)


def test_stream_a_million_values_through_one_small_pool(executor, rng, monkeypatch) -> None:
    backend = executor.backend
    sizes: list[int] = []
    allocate_pool = backend.allocate_pool

    def counting_allocate_pool(nbytes: int):
        sizes.append(nbytes)
        return allocate_pool(nbytes)

    monkeypatch.setattr(backend, "allocate_pool", counting_allocate_pool)
    values = rng.standard_normal(1_000_003).astype(np.float32)
    pool = executor.pool(POOL_BYTES)
    program = double_plus_one_program()

    chunks = list(pool.stream(values, program))
    assert sizes == [POOL_BYTES]
    assert len(chunks) == -(-values.size // (POOL_BYTES // 4))
    assert max(c.size for c in chunks) == POOL_BYTES // 4
    result = np.concatenate(chunks)
    expected = values.astype(np.float64) * 2 + 1
    np.testing.assert_allclose(result, expected, rtol=2e-6, atol=1e-6)


def test_stream_an_iterable_of_uneven_pieces(executor, rng) -> None:
    pieces = [rng.standard_normal(n) for n in (5, 0, 700, 1, 256)]
    pool = executor.pool(1024)
    program = affine_pool_program("f32")
    out = pool.map(
        iter(pieces), program, extra_args={"scale": -0.5, "shift": 3.0}, chunk_elems=100, block=64
    )
    expected = np.concatenate(pieces) * -0.5 + 3.0
    assert out.dtype == np.float32 and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=2e-6, atol=1e-6)


def test_stream_of_nothing_is_empty(executor) -> None:
    out = executor.pool(64).map([], double_plus_one_program())
    assert out.shape == (0,) and out.dtype == np.float32


def test_stream_checks_its_binding_up_front(executor) -> None:
    pool = executor.pool(64)
    program = affine_pool_program("f32")
    with pytest.raises(LaunchError, match="'scale'"):
        pool.stream(np.zeros(4), program)
    with pytest.raises(LaunchError, match="no parameters"):
        pool.stream(np.zeros(4), program, extra_args={"scale": 1, "shift": 0, "bogus": 1})
    with pytest.raises(LaunchError, match="count_param"):
        pool.stream(np.zeros(4), program, count_param="length")
    with pytest.raises(PoolExhaustedError, match="chunk_elems=17"):
        pool.stream(np.zeros(4), double_plus_one_program(), chunk_elems=17)
    with pytest.raises(PoolExhaustedError, match="cannot hold one f64"):
        executor.pool(4).stream(np.zeros(4), affine_pool_program("f64"))
    b = Builder("no_pool")
    b.scalar("n", "u32")
    with pytest.raises(LaunchError, match="no pool parameter"):
        pool.stream(np.zeros(4), b.build())


def test_stream_refuses_a_change_of_kind(executor) -> None:
    b = Builder("int_pool")
    pool_arg = b.pool("pool", "i32")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.pool_st(pool_arg, i, b.add(b.pool_ld(pool_arg, i), 1))
    program = b.build()
    pool = executor.pool(64)
    with pytest.raises(DTypeError, match="float64 to i32"):
        pool.map(np.zeros(4), program)
    np.testing.assert_array_equal(
        pool.map(np.arange(20, dtype=np.int16), program), np.arange(1, 21)
    )
