"""The cpu backend's float32 matrix products against numpy.matmul, in one process.

    python benchmarks/gemm_cpu.py [--runs 15] [--threads 1 2] [--small]

For each shape (the products of the model set: bert and gpt at batch 32, attention, the
im2col products of resnet and mobilenet, squares, the mlp's) and thread count, NumPy and the
packed product (`sgemm`) run interleaved run by run on the same operands, and at one thread
also the direct kernels (`direct_product`) where they take the layout; the table gives
GFLOP/s from the medians and the ratios numpy / ours (above 1: ours is faster). NumPy's BLAS
gets the same thread count. Small products repeat within a run so that a run lasts long
enough to time. `--small` adds the grid of few-row products (m in 1..16, n and k in 10..1536,
B row-major and transposed) at one thread, direct kernel only.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from hologram.backends._cpu_direct import direct_product
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
    ("mlp b1 x.W1^T", 1, 1, 64, 256, False, True),
    ("mlp b1 x.W2^T", 1, 1, 256, 256, False, True),
    ("mlp b1 x.W3^T", 1, 1, 256, 10, False, True),
    ("mlp b8 x.W2^T", 1, 8, 256, 256, False, True),
    ("mlp b32 x.W2^T", 1, 32, 256, 256, False, True),
    ("vector x 384x1536", 1, 1, 384, 1536, False, False),
    ("4 rows x 1536x384", 1, 4, 1536, 384, False, False),
]
SMALL_ROWS = [1, 2, 4, 8, 16]
SMALL_SIZES = [10, 64, 256, 384, 784, 1536]


def _operands(rng, batch, m, k, n, ta, tb):  # type: ignore[no-untyped-def]
    a = rng.standard_normal((batch, k, m) if ta else (batch, m, k), dtype=np.float32)
    b = rng.standard_normal((batch, n, k) if tb else (batch, k, n), dtype=np.float32)
    left = a.swapaxes(1, 2) if ta else a
    right = b.swapaxes(1, 2) if tb else b
    a_at = (0, m * k, 1, m) if ta else (0, m * k, k, 1)
    b_at = (0, k * n, 1, k) if tb else (0, k * n, n, 1)
    return a.reshape(-1), b.reshape(-1), left, right, a_at, b_at


def _timed(run, repeats: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def _measure(shape, threads: int, runs: int, rng, kernels=("packed", "direct")) -> list[float]:  # type: ignore[no-untyped-def]
    """GFLOP/s of numpy and of each of `kernels` (nan where it refuses the layout)."""
    _, batch, m, k, n, ta, tb = shape
    a, b, left, right, a_at, b_at = _operands(rng, batch, m, k, n, ta, tb)
    theirs = np.empty((batch, m, n), np.float32)
    dims = sgemm_dims(batch, m, n, k, a_at, b_at, (0, m * n))
    outputs = {name: np.empty(batch * m * n, np.float32) for name in kernels}
    calls = {
        "packed": lambda: sgemm(a, b, outputs["packed"], dims, threads),
        "direct": lambda: direct_product(a, b, outputs["direct"], dims),
    }
    if "direct" in kernels and (threads > 1 or not direct_product(a, b, outputs["direct"], dims)):
        kernels = tuple(name for name in kernels if name != "direct")
    flops = 2.0 * batch * m * n * k
    repeats = max(1, min(200, int(2e7 / flops)))
    times: dict[str, list[float]] = {name: [] for name in ("numpy", *kernels)}
    with threadpool_limits(threads, user_api="blas"):
        for _ in range(runs + 2):  # the first two warm caches and threads up
            times["numpy"].append(_timed(lambda: np.matmul(left, right, out=theirs), repeats))
            for name in kernels:
                times[name].append(_timed(calls[name], repeats))
    rates = {name: flops / statistics.median(t[2:]) / 1e9 for name, t in times.items()}
    for name in kernels:
        error = float(np.abs(outputs[name].reshape(batch, m, n) - theirs).max())
        assert error < 1e-3 * np.sqrt(k), f"{shape[0]} ({name}): results differ by {error}"
    return [rates.get(name, float("nan")) for name in ("numpy", "packed", "direct")]


def _ratio(ours: float, numpy_rate: float) -> str:
    return "-" if np.isnan(ours) else f"{ours / numpy_rate:.2f}x"


def _small_table(runs: int, rng) -> Table:  # type: ignore[no-untyped-def]
    table = Table(title="few-row products, one thread: numpy / direct kernel time, medians")
    table.add_column("B, m x k", justify="left")
    for n in SMALL_SIZES:
        table.add_column(f"n={n}", justify="right")
    for tb in (False, True):
        for m in SMALL_ROWS:
            for k in SMALL_SIZES:
                cells = []
                for n in SMALL_SIZES:
                    shape = ("", 1, m, k, n, False, tb)
                    numpy_rate, _, direct_rate = _measure(shape, 1, runs, rng, ("direct",))
                    cells.append(_ratio(direct_rate, numpy_rate))
                table.add_row(f"{'B^T' if tb else 'B'}, {m} x {k}", *cells)
    return table


def main() -> int:
    """Measure every shape at every thread count and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--small", action="store_true", help="add the few-row grid")
    options = parser.parse_args()
    rng = np.random.default_rng(0)
    table = Table(title="float32 matmul: numpy.matmul vs the cpu backend's kernels, medians")
    columns = ("shape", "batch x m x k x n", "threads", "numpy GF/s", "packed GF/s",
               "direct GF/s", "packed", "direct")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "shape" else "right")
    for shape in SHAPES:
        name, batch, m, k, n = shape[:5]
        for threads in options.threads:
            numpy_rate, packed, direct = _measure(shape, threads, options.runs, rng)
            table.add_row(
                name,
                f"{batch}x{m}x{k}x{n}" + ("ᵀ" if shape[6] else ""),
                str(threads),
                f"{numpy_rate:.0f}",
                f"{packed:.0f}",
                "-" if np.isnan(direct) else f"{direct:.0f}",
                _ratio(packed, numpy_rate),
                _ratio(direct, numpy_rate),
            )
    console = Console(width=140)
    console.print(table)
    if options.small:
        console.print(_small_table(options.runs, rng))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
