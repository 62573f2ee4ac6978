"""Streaming: a file larger than the pool through ReLU and a scale, in O(1) memory.

    python examples/streaming.py [--backend cpu] [--size 1000000] [--pool 1MiB]

A file of random float32 values is streamed through a fixed pool: each chunk is computed in
place, written to an output file and summed by an AggregateDomainHead. The output and the sum
are checked against NumPy on the whole input (float64 for the sum); the script prints one line
per check and exits with status 1 if one is off.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hologram.config import parse_bytes
from hologram.stream import AggregateDomainHead, ComputePipeline, FileSink, ReLU, ScalarMul


def main(argv: Sequence[str] | None = None) -> int:
    """Stream, check, print; 0 when every result matches NumPy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto", help="auto, reference, cpu, ...")
    parser.add_argument("--size", type=int, default=1_000_000, help="float32 values")
    parser.add_argument("--pool", default="1MiB", help="the pool's size")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    x = np.random.default_rng(7).standard_normal(args.size).astype(np.float32)
    pipeline = ComputePipeline(args.backend, pool_bytes=parse_bytes(args.pool))
    pipeline.add_op(ReLU()).add_op(ScalarMul(0.5))
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.f32", Path(tmp) / "out.f32"
        x.tofile(source)
        head = AggregateDomainHead()
        context = pipeline.execute(source, dtype="float32", sink=FileSink(target), heads=[head])
        got = np.fromfile(target, np.float32)
    expected = np.maximum(x, 0) * np.float32(0.5)
    print(f"backend: {pipeline.executor.backend_name}; {len(context.gauges)} chunks, largest "
          f"{max(g.nbytes for g in context.gauges)} bytes through a {args.pool} pool")  # fmt: skip
    output_error = float(np.max(np.abs(got - expected)))
    exact = math.fsum(expected.astype(np.float64))
    sum_error = abs(head.sum - exact) / max(1.0, abs(exact))
    checks = [("output", output_error, output_error == 0.0), ("sum", sum_error, sum_error < 1e-6)]
    for name, error, ok in checks:
        print(f"{name:<8} max error {error:.2e}  {'ok' if ok else 'WRONG'}")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
