"""The cpu backend's float32 matrix product against numpy.matmul, in one process.

    python benchmarks/gemm_cpu.py [--runs 15] [--threads 1 2]

For each shape (the products of the model set: bert and gpt at batch 32, attention, the
im2col products of resnet and mobilenet, squares) and thread count, both run interleaved run
by run on the same operands; the table gives GFLOP/s from the medians and the ratio
numpy / ours (above 1: ours is faster). NumPy's BLAS gets the same thread count.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from hologram.backends._cpu_gemm import sgemm, sgemm_dims

# (name, batch, m, k, n, A transposed, B transposed)
SHAPES = [
    ("bert/gpt b32 qkv", 1, 4096, 384, 384, False, False),
    ("bert/gpt b32 ffn up", 1, 4096, 384, 1536, False, False),
    ("bert/gpt b32 ffn down", 1, 4096, 1536, 384, False, False),
    ("attention q.kT (x192)", 192, 128, 64, 128, False, True),
    ("attention p.v (x192)", 192, 128, 128, 64, False, False),
    ("conv 3x3 64 b1", 1, 3136, 576, 64, False, False),
    ("conv 3x3 64 b32", 1, 100352, 576, 64, False, False),
    ("conv (64,576)x(576,3136)", 1, 64, 576, 3136, False, False),
    ("conv 1x1 256 b32", 1, 25088, 256, 256, False, False),
    ("square 256", 1, 256, 256, 256, False, False),
    ("square 512", 1, 512, 512, 512, False, False),
    ("square 1024", 1, 1024, 1024, 1024, False, False),
    ("square 512 A^T B^T", 1, 512, 512, 512, True, True),
    ("b1 bert 8x384x384", 1, 8, 384, 384, False, False),
    ("mlp b32 32x784x256", 1, 32, 784, 256, False, False),
]


def _operands(rng, batch, m, k, n, ta, tb):  # type: ignore[no-untyped-def]
    a = rng.standard_normal((batch, k, m) if ta else (batch, m, k), dtype=np.float32)
    b = rng.standard_normal((batch, n, k) if tb else (batch, k, n), dtype=np.float32)
    left = a.swapaxes(1, 2) if ta else a
    right = b.swapaxes(1, 2) if tb else b
    a_at = (0, m * k, 1, m) if ta else (0, m * k, k, 1)
    b_at = (0, k * n, 1, k) if tb else (0, k * n, n, 1)
    return a.reshape(-1), b.reshape(-1), left, right, a_at, b_at


def _measure(shape, threads: int, runs: int, rng) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    _, batch, m, k, n, ta, tb = shape
    a, b, left, right, a_at, b_at = _operands(rng, batch, m, k, n, ta, tb)
    ours = np.empty(batch * m * n, np.float32)
    theirs = np.empty((batch, m, n), np.float32)
    dims = sgemm_dims(batch, m, n, k, a_at, b_at, (0, m * n))
    ours_times, numpy_times = [], []
    with threadpool_limits(threads, user_api="blas"):
        for _ in range(runs + 2):  # the first two warm caches and threads up
            start = time.perf_counter()
            np.matmul(left, right, out=theirs)
            numpy_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            sgemm(a, b, ours, dims, threads)
            ours_times.append(time.perf_counter() - start)
    error = float(np.abs(ours.reshape(batch, m, n) - theirs).max())
    flops = 2.0 * batch * m * n * k
    mine, numpy_median = statistics.median(ours_times[2:]), statistics.median(numpy_times[2:])
    assert error < 1e-3 * np.sqrt(k), f"{shape[0]}: results differ by {error}"
    return flops / numpy_median / 1e9, flops / mine / 1e9, numpy_median / mine


def main() -> int:
    """Measure every shape at every thread count and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()
    rng = np.random.default_rng(0)
    table = Table(title="float32 matmul: numpy.matmul vs the cpu backend's sgemm, medians")
    for column in ("shape", "batch x m x k x n", "threads", "numpy GF/s", "ours GF/s", "ratio"):
        table.add_column(column, justify="left" if column == "shape" else "right")
    for shape in SHAPES:
        name, batch, m, k, n = shape[:5]
        for threads in options.threads:
            numpy_rate, our_rate, ratio = _measure(shape, threads, options.runs, rng)
            table.add_row(
                name,
                f"{batch}x{m}x{k}x{n}",
                str(threads),
                f"{numpy_rate:.0f}",
                f"{our_rate:.0f}",
                f"{ratio:.2f}x",
            )
    Console(width=120).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
