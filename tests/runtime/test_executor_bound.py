"""Repeated launches: bound launches per (config, scalars), `Executor.bind`, constants."""

from __future__ import annotations

import numpy as np
import pytest

from hologram import Executor
from hologram.errors import AllocationError, DTypeError, LaunchError
from hologram.isa import Builder, LaunchConfig, Program


def axpb_program() -> Program:
    """y[i] = x[i] * a + b for i < n (f32)."""
    b = Builder("axpb_bound_f32")
    x = b.buffer("x", "f32")
    y = b.buffer("y", "f32", access="write")
    a = b.scalar("a", "f32")
    c = b.scalar("b", "f32")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.add(b.mul(b.ldg(x, i), a), c))
    return b.build()


def _oracle(x: np.ndarray, a: float, c: float) -> np.ndarray:
    return (x.astype(np.float64) * np.float32(a) + np.float32(c)).astype(np.float32)


def test_repeated_launches_read_each_call_memory(executor, rng) -> None:
    program, n = axpb_program(), 1000
    config = LaunchConfig.for_elements(n)
    for _ in range(5):  # the same (config, scalars): bound after the second launch
        x = rng.standard_normal(n).astype(np.float32)
        y = np.full(n, np.nan, np.float32)
        executor.launch(program, config, args=[x, y, 1.5, -2.0, n])
        np.testing.assert_allclose(y, _oracle(x, 1.5, -2.0), rtol=1e-6, atol=1e-6)
    buffers = [executor.from_numpy(rng.standard_normal(n).astype(np.float32)) for _ in range(3)]
    for source in buffers:
        out = executor.allocate(n, "f32")
        executor.launch(program, config, args=[source, out, 1.5, -2.0, n])
        expected = _oracle(source.to_numpy(), 1.5, -2.0)
        np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-6, atol=1e-6)


def test_scalars_are_told_apart_by_their_bits(executor, rng) -> None:
    # 0.0 == -0.0, yet x * -0.0 + -0.0 is -0.0 where x * 0.0 + -0.0 is 0.0 (x > 0).
    program, n = axpb_program(), 64
    config = LaunchConfig.for_elements(n)
    x = rng.uniform(1.0, 2.0, n).astype(np.float32)
    for a in (0.0, 0.0, 0.0, -0.0, -0.0, 0.0):
        y = np.full(n, np.nan, np.float32)
        executor.launch(program, config, args=[x, y, a, -0.0, n])
        assert (np.signbit(y) == np.signbit(np.float32(a))).all(), a


def test_checks_hold_after_binding(executor, rng) -> None:
    program, n = axpb_program(), 256
    config = LaunchConfig.for_elements(n)
    x = rng.standard_normal(n).astype(np.float32)
    for _ in range(3):
        executor.launch(program, config, args=[x, np.empty(n, np.float32), 1.0, 0.0, n])
    with pytest.raises(DTypeError, match="'x'"):
        executor.launch(
            program, config, args=[x.astype(np.float64), np.empty(n, np.float32), 1.0, 0.0, n]
        )
    with pytest.raises(LaunchError, match="'y'"):
        readonly = np.empty(n, np.float32)
        readonly.flags.writeable = False
        executor.launch(program, config, args=[x, readonly, 1.0, 0.0, n])
    with pytest.raises(DTypeError):
        executor.launch(program, config, args=[x, np.empty(n, np.float32), 1.0, 0.0, -1])
    freed = executor.allocate(n, "f32")
    freed.free()
    with pytest.raises(AllocationError, match="freed"):
        executor.launch(program, config, args=[freed, np.empty(n, np.float32), 1.0, 0.0, n])


def test_bind_runs_on_the_same_memory(executor, rng) -> None:
    program, n = axpb_program(), 500
    config = LaunchConfig.for_elements(n)
    x = executor.from_numpy(rng.standard_normal(n).astype(np.float32))
    y = executor.allocate(n, "f32")
    run = executor.bind(program, config, [x, y, 3.0, 1.0, n])
    for _ in range(3):
        values = rng.standard_normal(n).astype(np.float32)
        x.copy_from(values)
        run()
        executor.synchronize()
        np.testing.assert_allclose(y.to_numpy(), _oracle(values, 3.0, 1.0), rtol=1e-6, atol=1e-6)
    y.free()
    with pytest.raises(AllocationError, match="freed"):
        run()


def test_constant_is_made_once_per_array(executor) -> None:
    table = np.arange(16, dtype=np.uint32)
    with pytest.raises(LaunchError, match="read-only"):
        executor.constant(table)
    table.flags.writeable = False
    buffer = executor.constant(table)
    assert executor.constant(table) is buffer
    assert Executor(executor.backend).constant(table) is not buffer
    np.testing.assert_array_equal(buffer.to_numpy(), table)


def test_native_view_is_made_once(executor) -> None:
    buffer = executor.allocate(32, "f32")
    assert buffer.native() is buffer.native()
    assert buffer.reshape(4, 8).native() is not buffer.native()
    buffer.free()
    with pytest.raises(AllocationError, match="freed"):
        buffer.native()


def test_bind_open_takes_each_call_memory(executor, rng) -> None:
    program, n = axpb_program(), 300
    config = LaunchConfig.for_elements(n)
    first = [rng.standard_normal(n).astype(np.float32), np.empty(n, np.float32)]
    run = executor.bind_open(program, config, [*first, 0.5, 2.0, n], [0, 1])
    for i in range(4):  # arrays and Buffers alike, each call its own
        x = rng.standard_normal(n).astype(np.float32)
        if i % 2:
            y = executor.allocate(n, "f32")
            run(executor.from_numpy(x), y)
            executor.synchronize()
            got = y.to_numpy()
        else:
            got = np.full(n, np.nan, np.float32)
            run(x, got)
        np.testing.assert_allclose(got, _oracle(x, 0.5, 2.0), rtol=1e-6, atol=1e-6)


def test_bind_open_keeps_checking_each_call(executor, rng) -> None:
    program, n = axpb_program(), 128
    config = LaunchConfig.for_elements(n)
    x = rng.standard_normal(n).astype(np.float32)
    run = executor.bind_open(program, config, [x, np.empty(n, np.float32), 1.0, 0.0, n], [0, 1])
    run(x, np.empty(n, np.float32))
    with pytest.raises(DTypeError, match="'x'"):
        run(x.astype(np.float64), np.empty(n, np.float32))
    readonly = np.empty(n, np.float32)
    readonly.flags.writeable = False
    with pytest.raises(LaunchError, match="'y'"):
        run(x, readonly)
    freed = executor.allocate(n, "f32")
    freed.free()
    with pytest.raises(AllocationError, match="freed"):
        run(freed, np.empty(n, np.float32))
    strided = np.empty(2 * n, np.float32)[::2]  # copied in and back by the general path
    run(x, strided)
    np.testing.assert_allclose(strided, _oracle(x, 1.0, 0.0), rtol=1e-6, atol=1e-6)


def test_is_constant_knows_only_constants(executor) -> None:
    table = np.arange(8, dtype=np.uint32)
    table.flags.writeable = False
    assert executor.is_constant(executor.constant(table))
    assert not executor.is_constant(executor.from_numpy(table.copy()))


def test_allocate_kept_takes_no_class(executor) -> None:
    before = executor.allocator.bitmap
    kept = executor.allocate_kept((3, 5), "f64")
    assert kept.shape == (3, 5) and not kept.allocation.owns_classes
    assert executor.allocator.bitmap == before
    kept.copy_from(np.arange(15.0).reshape(3, 5))
    np.testing.assert_array_equal(kept.to_numpy(), np.arange(15.0).reshape(3, 5))
