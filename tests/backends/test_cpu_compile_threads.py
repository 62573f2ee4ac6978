"""The cpu backend compiles one program from many threads at once (dask workers do)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import numpy as np
import pytest

from hologram.backends import get_backend
from hologram.isa import Builder, LaunchConfig


def test_one_new_program_from_many_threads(rng: np.random.Generator) -> None:
    pytest.importorskip("numba", reason="the cpu backend needs Numba")
    backend = get_backend("cpu")
    b = Builder(f"threaded_cpu_{rng.integers(1 << 40)}")  # a name no earlier test compiled
    x = b.buffer("x", "f32")
    out = b.buffer("out", "f32", access="write")
    i = b.global_id()
    b.stg(out, i, b.mul(b.ldg(x, i), b.ldg(x, i)))
    program = b.build()
    start = Barrier(4)
    inputs = [rng.standard_normal(512).astype(np.float32) for _ in range(4)]

    def compile_and_run(xs: np.ndarray) -> np.ndarray:
        start.wait()
        backend.compile(program)
        result = np.zeros_like(xs)
        backend.launch(program, LaunchConfig(2, 256), [xs, result])
        return result

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(compile_and_run, inputs))
    for xs, result in zip(inputs, results, strict=True):
        np.testing.assert_array_equal(result, xs * xs)
