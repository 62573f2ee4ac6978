"""The Executor: backend choice, argument binding and checking, launches, write-back."""

from __future__ import annotations

import numpy as np
import pytest

from hologram import Executor
from hologram.backends import available_backends, get_backend
from hologram.config import reload_settings
from hologram.errors import BackendUnavailableError, DTypeError, LaunchError
from hologram.isa import Builder, LaunchConfig, Program


def axpb_program(dtype: str = "f32") -> Program:
    """y[i] = x[i] * a + b for i < n."""
    b = Builder(f"axpb_{dtype}")
    x = b.buffer("x", dtype)
    y = b.buffer("y", dtype, access="write")
    a = b.scalar("a", dtype)
    c = b.scalar("b", dtype)
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.add(b.mul(b.ldg(x, i), a), c))
    return b.build()


def increment_program() -> Program:
    """x[i] += 1 for i < n, in place."""
    b = Builder("increment_i32")
    x = b.buffer("x", "i32", access="readwrite")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(x, i, b.add(b.ldg(x, i), 1))
    return b.build()


def pool_sum_program() -> Program:
    """y[i] = pool[i] + pool[i + n] for i < n."""
    b = Builder("pool_pair_sum")
    pool = b.pool("pool", "f64", access="read")
    y = b.buffer("y", "f64", access="write")
    n = b.scalar("n", "u32")
    i = b.global_id()
    with b.if_(b.setp("lt", i, n)):
        b.stg(y, i, b.add(b.pool_ld(pool, i), b.pool_ld(pool, b.add(i, n))))
    return b.build()


@pytest.fixture
def default_backend(monkeypatch):
    """Point settings().backend at the reference backend for one test."""
    monkeypatch.setenv("HOLOGRAM_BACKEND", "reference")
    reload_settings()
    yield
    monkeypatch.undo()
    reload_settings()


def test_backend_choice(backend_name) -> None:
    ex = Executor(backend_name)
    assert ex.backend_name == backend_name
    assert ex.backend is get_backend(backend_name) is Executor(backend_name).backend
    assert backend_name in repr(ex)
    assert Executor(ex.backend).backend is ex.backend


def test_auto_and_default_backend(default_backend) -> None:
    if "reference" not in available_backends():
        pytest.skip("the reference backend is not available")
    assert Executor().backend_name == "reference"
    assert Executor("auto").backend_name == available_backends()[0]


def test_unknown_backend_raises() -> None:
    with pytest.raises(BackendUnavailableError, match="no_such_backend"):
        Executor("no_such_backend")


def test_launch_buffers_and_scalars(executor, rng) -> None:
    n = 1000
    x = executor.from_numpy(rng.standard_normal(n).astype(np.float32))
    y = executor.zeros(n, "f32")
    executor.launch(
        axpb_program(), grid=-(-n // 128), block=128, args=[x, y, 1.5, np.float32(-2), n]
    )
    executor.synchronize()
    expected = x.to_numpy().astype(np.float64) * 1.5 - 2
    np.testing.assert_allclose(y.to_numpy(), expected, rtol=2e-6, atol=1e-6)


def test_launch_writes_into_the_array_a_buffer_wraps(executor, rng) -> None:
    a = rng.integers(-100, 100, size=300, dtype=np.int32)
    before = a.copy()
    buf = executor.from_numpy(a)
    executor.launch(increment_program(), LaunchConfig.for_elements(300, 64), args=[buf, 300])
    np.testing.assert_array_equal(buf.to_numpy(), before + 1)
    if executor.backend.is_host:
        np.testing.assert_array_equal(a, before + 1)


def test_numpy_arguments_are_written_in_place(executor, rng) -> None:
    x = rng.standard_normal(200).astype(np.float64)
    y = np.zeros(200)
    executor.launch(axpb_program("f64"), 4, 64, [x, y, 3.0, 0.5, 200])
    np.testing.assert_allclose(y, x * 3.0 + 0.5, rtol=1e-12)


def test_non_contiguous_arrays_are_copied_back(executor) -> None:
    base = np.arange(20, dtype=np.int32)
    strided = base[::2]
    executor.launch(increment_program(), 1, 32, [strided, 10])
    np.testing.assert_array_equal(base[::2], np.arange(0, 20, 2) + 1)
    np.testing.assert_array_equal(base[1::2], np.arange(1, 20, 2))
    # The temporary copy went back to the allocator.
    assert executor.stats()["classes_used"] == 0


def test_pool_arguments(executor, rng) -> None:
    values = rng.standard_normal(64)
    pool = executor.pool(values.nbytes)
    pool.write(values)
    y = executor.zeros(32, "f64")
    executor.launch(pool_sum_program(), 1, 32, [pool, y, 32])
    np.testing.assert_allclose(y.to_numpy(), values[:32] + values[32:], rtol=1e-12)


def test_wrong_argument_count_names_the_parameters(executor) -> None:
    with pytest.raises(LaunchError, match=r"takes 5 arguments \(x, y, a, b, n\), got 2"):
        executor.launch(axpb_program(), 1, 1, [np.zeros(1, np.float32)] * 2)


def test_dtype_mismatches_name_the_parameter(executor) -> None:
    program = axpb_program()
    y = executor.zeros(4, "f32")
    wrong_buffer = executor.zeros(4, "f64")
    with pytest.raises(DTypeError, match=r"parameter 'x'.* f32, got a Buffer of f64"):
        executor.launch(program, 1, 4, [wrong_buffer, y, 1.0, 0.0, 4])
    with pytest.raises(DTypeError, match=r"parameter 'y'.* f32, got an array of i64"):
        executor.launch(program, 1, 4, [y, np.zeros(4, np.int64), 1.0, 0.0, 4])
    with pytest.raises(DTypeError, match=r"parameter 'x'.* got an array of complex128"):
        executor.launch(program, 1, 4, [np.zeros(4, complex), y, 1.0, 0.0, 4])
    with pytest.raises(DTypeError, match="'n'"):
        executor.launch(program, 1, 4, [y, y, 1.0, 0.0, -1])


def test_argument_kinds_are_checked(executor) -> None:
    program = axpb_program()
    y = executor.zeros(4, "f32")
    with pytest.raises(LaunchError, match="parameter 'x'.* needs a Buffer or a NumPy array"):
        executor.launch(program, 1, 4, [1.0, y, 1.0, 0.0, 4])
    with pytest.raises(LaunchError, match="parameter 'a'.* needs a number"):
        executor.launch(program, 1, 4, [y, y, y, 0.0, 4])
    with pytest.raises(LaunchError, match="parameter 'pool'.* needs a Pool"):
        executor.launch(pool_sum_program(), 1, 4, [y, executor.zeros(4, "f64"), 4])
    with pytest.raises(LaunchError, match="not both"):
        executor.launch(program, LaunchConfig(1, 4), 4, [y, y, 1.0, 0.0, 4])
    with pytest.raises(LaunchError, match="expected a Program"):
        executor.launch("axpb", 1, 4, [])  # type: ignore[arg-type]


def test_read_only_memory_cannot_be_written(executor) -> None:
    frozen = np.zeros(4, np.float32)
    frozen.flags.writeable = False
    x = executor.zeros(4, "f32")
    with pytest.raises(LaunchError, match="parameter 'y'.* read-only"):
        executor.launch(axpb_program(), 1, 4, [x, frozen, 1.0, 0.0, 4])
    if executor.backend.is_host:
        with pytest.raises(LaunchError, match="parameter 'y'.* read-only"):
            executor.launch(axpb_program(), 1, 4, [x, executor.from_numpy(frozen), 1.0, 0.0, 4])
    # Reading a read-only array is fine.
    y = executor.zeros(4, "f32")
    executor.launch(axpb_program(), 1, 4, [frozen, y, 1.0, 2.0, 4])
    np.testing.assert_array_equal(y.to_numpy(), 2.0)


def test_buffers_of_another_backend_are_refused(backend_name) -> None:
    others = [name for name in available_backends() if name != backend_name]
    if not others:
        pytest.skip("needs two available backends")
    ex, other = Executor(backend_name), Executor(others[0])
    x = other.zeros(4, "f32")
    with pytest.raises(LaunchError, match="lives on backend"):
        ex.launch(axpb_program(), 1, 4, [x, ex.zeros(4, "f32"), 1.0, 0.0, 4])


def test_compile_ahead_of_launch(executor) -> None:
    program = increment_program()
    assert executor.compile(program) is executor.compile(program)
