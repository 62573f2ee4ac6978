"""Streaming against NumPy on a memory-mapped file: ReLU, then scale, then sum.

    python benchmarks/stream.py                       # 1 GiB and 8 GiB float32 files
    python benchmarks/stream.py --sizes 64MiB,256MiB  # smaller, for a quick look

For each size a file of random float32 values is written to a temporary directory. Each
measurement runs in a fresh process, hologram and NumPy interleaved, so that each process's
peak resident memory is its own: hologram streams the file through a fixed pool
(`ComputePipeline` with ReLU and ScalarMul, an AggregateDomainHead for the sum); NumPy computes
`np.maximum(m, 0) * 0.5` (in place after the first step) and `.sum()` on an np.memmap of it.
The table shows median throughput (GB/s of input), the ratio to NumPy, and peak RSS against
the interpreter's baseline (its RSS after importing and compiling, before streaming).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

WRITE_PIECE = 64 * 2**20


def rss_kib() -> int:
    """This process's current resident memory in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_kib() -> int:
    """This process's peak resident memory so far in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def worker_hologram(path: str, pool: int) -> dict[str, float]:
    """Stream `path` through ReLU -> scale -> sum in a fixed pool; time and memory."""
    from hologram.stream import AggregateDomainHead, ComputePipeline, NullSink, ReLU, ScalarMul

    pipeline = ComputePipeline("cpu", pool_bytes=pool).add_op(ReLU()).add_op(ScalarMul(0.5))
    pipeline.execute(np.ones(1024, np.float32), sink=NullSink(), heads=[AggregateDomainHead()])
    baseline = peak_kib()
    head = AggregateDomainHead()
    start = time.perf_counter()
    pipeline.execute(path, dtype="float32", sink=NullSink(), heads=[head])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "sum": float(head.sum), "baseline": baseline, "peak": peak_kib()}


def worker_numpy(path: str) -> dict[str, float]:
    """ReLU -> scale -> sum with NumPy on a memmap of `path`; time and memory."""
    baseline = peak_kib()
    start = time.perf_counter()
    m = np.memmap(path, np.float32, "r")
    r = np.maximum(m, 0)
    np.multiply(r, np.float32(0.5), out=r)
    total = float(r.sum())
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "sum": total, "baseline": baseline, "peak": peak_kib()}


def make_file(path: Path, nbytes: int, seed: int = 0) -> None:
    """`nbytes` of random float32 values in [-1, 1) at `path`."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as file:
        left = nbytes
        while left:
            count = min(left, WRITE_PIECE) // 4
            (rng.random(count, dtype=np.float32) * 2 - 1).tofile(file)
            left -= count * 4


def measure(kind: str, path: Path, pool: int) -> dict[str, float]:
    """Run one worker in a fresh interpreter and return what it reports."""
    command = [sys.executable, __file__, "--worker", kind, str(path), "--pool", str(pool)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_size(text: str) -> int:
    """`1GiB` -> 1073741824 (see hologram.config.parse_bytes)."""
    from hologram.config import parse_bytes

    return parse_bytes(text)


def main() -> int:
    """Measure each size; print the table. 0 when every check held."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1GiB,8GiB", help="file sizes, e.g. 1GiB,8GiB")
    parser.add_argument("--pool", default="64MiB", help="hologram's pool size")
    parser.add_argument("--repeats", type=int, default=3, help="runs per tool and size")
    parser.add_argument("--dir", default=None, help="where to write the files (a temp dir)")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    pool = parse_size(args.pool)
    if args.worker:
        kind, path = args.worker
        result = worker_hologram(path, pool) if kind == "hologram" else worker_numpy(path)
        print(json.dumps(result))
        return 0

    sizes = [parse_size(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="hologram-stream-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"input-{size}.f32"
            make_file(path, size)
            runs: dict[str, list[dict[str, float]]] = {"hologram": [], "numpy": []}
            for repeat in range(args.repeats):
                order = ("hologram", "numpy") if repeat % 2 == 0 else ("numpy", "hologram")
                for kind in order:
                    runs[kind].append(measure(kind, path, pool))
            rows.append((size, runs))
            path.unlink()
    return render(rows, pool)


def _median(runs: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return float(np.median(values)) if values else float("nan")


def render(rows: list, pool: int) -> int:
    """Print the table of `rows` and the memory checks; 0 when they hold."""
    table = Table(title=f"ReLU -> scale -> sum on float32 files (pool {pool / 2**20:.0f} MiB)")
    for column in ("size", "hologram GB/s", "NumPy GB/s", "ratio", "hologram peak RSS",
                   "baseline + 2x pool", "NumPy peak RSS", "sums agree"):  # fmt: skip
        table.add_column(column, justify="right")
    peaks = []
    ok = True
    for size, runs in rows:
        ours, theirs = runs["hologram"], runs["numpy"]
        errors = [r["error"] for r in ours + theirs if "error" in r]
        ours_rate = size / _median(ours, "seconds") / 1e9
        numpy_rate = size / _median(theirs, "seconds") / 1e9
        peak = _median(ours, "peak") / 1024
        limit = _median(ours, "baseline") / 1024 + 2 * pool / 2**20
        peaks.append(peak)
        ok &= peak < limit
        sums = [r["sum"] for r in ours + theirs if "sum" in r]
        agree = bool(sums) and np.allclose(sums, sums[0], rtol=1e-4)
        table.add_row(
            f"{size / 2**30:.2f} GiB",
            f"{ours_rate:.2f}",
            f"{numpy_rate:.2f}",
            f"{ours_rate / numpy_rate:.2f}x",
            f"{peak:.0f} MiB",
            f"{limit:.0f} MiB",
            f"{_median(theirs, 'peak') / 1024:.0f} MiB" if not errors else "; ".join(errors),
            "yes" if agree else "NO",
        )
    Console(width=160).print(table)
    spread = (max(peaks) - min(peaks)) / min(peaks) if peaks else 0.0
    print(f"hologram peak RSS spread across sizes: {spread:.1%} (must be within 10%)")
    print(f"machine: {os.cpu_count()} cores; shared, so figures are medians of interleaved runs")
    return 0 if ok and spread <= 0.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
