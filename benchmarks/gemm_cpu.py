"""The cpu backend's float32 matrix products against numpy.matmul, in one process.

    python benchmarks/gemm_cpu.py [--runs 15] [--threads 1 2] [--small]

For each shape (the products of the model set's bert and gpt, larger ones, attention, the
im2col products of resnet and mobilenet, squares, the mlp's) and thread count, NumPy and our
kernels run interleaved run by run on the same operands: the packed product (`sgemm_serial`)
and the direct kernels (`direct`, where they take the layout), past one thread cut into parts
on Numba's pool (`_cpu_split`; the backend cuts those from `SPLIT_PRODUCT_FLOPS` on). The
table gives NumPy's GFLOP/s from the medians, the ratios numpy / ours (above 1: ours is
faster), the kernel the backend picks and, past one thread, that kernel's speed-up over
itself on one thread. NumPy's BLAS gets the same thread count. Small products repeat within
a run so that a run lasts long enough to time. `--small` adds the grid of few-row products
(m in 1..16, n and k in 10..1536, B row-major and transposed) at one thread, direct kernel
only.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from hologram.backends._cpu_direct import direct
from hologram.backends._cpu_gemm import sgemm_dims, sgemm_serial
from hologram.backends._cpu_intrinsics import _float32_kernel
from hologram.backends._cpu_split import run_parts, split_dims
from hologram.isa.dtypes import DType

FORMS = ("packed", "direct")

# (name, batch, m, k, n, A transposed, B transposed)
SHAPES = [
    ("bert b32 ffn up", 1, 2048, 128, 512, False, False),
    ("bert b32 ffn down", 1, 2048, 512, 128, False, False),
    ("bert b32 qkv", 1, 2048, 128, 128, False, False),
    ("bert b32 attention (x128)", 128, 64, 32, 64, False, False),
    ("gpt b32 product", 1, 2048, 128, 384, False, False),
    ("bert b1 ffn up", 1, 64, 128, 512, False, False),
    ("base-size qkv", 1, 4096, 384, 384, False, False),
    ("base-size ffn up", 1, 4096, 384, 1536, False, False),
    ("base-size ffn down", 1, 4096, 1536, 384, False, False),
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


def _measure(shape, threads: int, runs: int, rng, kernels=FORMS) -> list[float]:  # type: ignore[no-untyped-def]
    """GFLOP/s of numpy and of each of `FORMS` (nan where not in `kernels` or where it refuses
    the layout), the kernels cut into `threads` parts where they can be."""
    _, batch, m, k, n, ta, tb = shape
    a, b, left, right, a_at, b_at = _operands(rng, batch, m, k, n, ta, tb)
    theirs = np.empty((batch, m, n), np.float32)
    dims = sgemm_dims(batch, m, n, k, a_at, b_at, (0, m * n))
    table = np.stack(split_dims(dims, threads))
    outputs = {name: np.empty(batch * m * n, np.float32) for name in kernels}
    kernel_of = {"packed": sgemm_serial, "direct": direct}

    def call(name: str):  # type: ignore[no-untyped-def]
        if len(table) == 1:
            return lambda: kernel_of[name](a, b, outputs[name], dims)
        return lambda: run_parts(kernel_of[name], a, b, outputs[name], table)

    calls = {name: call(name) for name in kernels}
    if "direct" in kernels and direct(a, b, outputs["direct"], dims):
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
    return [rates.get(name, float("nan")) for name in ("numpy", *FORMS)]


def _ratio(ours: float, numpy_rate: float) -> str:
    return "-" if np.isnan(ours) or np.isnan(numpy_rate) else f"{ours / numpy_rate:.2f}x"


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
    columns = ("shape", "batch x m x k x n", "threads", "numpy GF/s", *FORMS, "picked",
               "picked vs 1 thread")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "shape" else "right")
    for shape in SHAPES:
        name, batch, m, k, n, ta, tb = shape
        picked = _float32_kernel(DType.F32, m, n, k, ta, tb)
        picked_name = {direct: "direct", sgemm_serial: "packed"}.get(picked, "numpy")  # type: ignore[arg-type]
        one_thread = float("nan")
        for threads in options.threads:
            numpy_rate, *ours = _measure(shape, threads, options.runs, rng)
            rate = dict(zip(FORMS, ours, strict=True)).get(picked_name, numpy_rate)
            one_thread = rate if threads == 1 else one_thread
            table.add_row(
                name,
                f"{batch}x{m}x{k}x{n}" + ("ᵀ" if tb else ""),
                str(threads),
                f"{numpy_rate:.0f}",
                *(_ratio(rate, numpy_rate) for rate in ours),
                picked_name,
                "" if threads == 1 else _ratio(rate, one_thread),
            )
    console = Console(width=140)
    console.print(table)
    if options.small:
        console.print(_small_table(options.runs, rng))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
