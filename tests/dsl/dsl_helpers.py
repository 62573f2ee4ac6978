"""Launch helpers, tolerances and draws shared by the kernel-language tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from hologram.isa import DType

TOLERANCE = {DType.F16: 2e-3, DType.BF16: 1.6e-2, DType.F32: 2e-5, DType.F64: 1e-12}
"""Relative (and absolute) tolerance of each float dtype against a float64 oracle."""

BLOCK = 64
"""Lanes per block in the tests' 1-D launches."""


def launch(executor: Any, kernel: Any, n: int, *args: Any, block: int = BLOCK) -> None:
    """Launch `kernel` with at least `n` lanes in blocks of `block` on `executor`."""
    grid = max(1, -(-n // block))
    kernel[grid, block](*args, executor=executor)


def draw(rng: np.random.Generator, n: int, dtype: str, low: float = -5, high: float = 5):
    """`n` random values in [low, high] stored as `dtype` (integers: whole numbers)."""
    dt = DType.of(dtype)
    if dt.is_bool:
        return rng.integers(0, 2, size=n).astype(bool)
    if dt.is_int:
        lo = int(low) if dt.is_signed else max(int(low), 0)
        return rng.integers(lo, int(high) + 1, size=n).astype(dt.numpy)
    return rng.uniform(low, high, size=n).astype(dt.numpy)


def nonzero(rng: np.random.Generator, n: int, dtype: str, low: float = -5, high: float = 5):
    """Like `draw`, without zeros (divisors)."""
    values = draw(rng, n, dtype, low, high)
    one = np.ones(1, values.dtype)[0]
    return np.where(values == 0, one, values)


def assert_close(got: Any, expected: Any, dtype: str | DType) -> None:
    """`got` equals the float64 oracle `expected` within the dtype's tolerance (ints: exactly)."""
    dt = DType.of(dtype)
    got = np.asarray(got.to_numpy() if hasattr(got, "to_numpy") else got)
    expected = np.asarray(expected)
    if not dt.is_float:
        np.testing.assert_array_equal(got, expected.astype(dt.numpy))
        return
    tol = TOLERANCE[dt]
    np.testing.assert_allclose(
        got.astype(np.float64), expected.astype(np.float64), rtol=tol, atol=tol, equal_nan=True
    )


def instructions(program: Any, op: str) -> list[Any]:
    """The instructions of `program` with mnemonic `op`."""
    return [ins for ins in program.instructions if ins.op.value == op]
