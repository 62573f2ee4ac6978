"""Sum of squares, sum(x * x): a block reduction finished with one atomic add per block.

    python examples/kernels/sum_of_squares.py [--backend cpu] [--size 1000000] [--grid 64]

What it shows of the kernel language:
- A grid-stride loop: a fixed grid of `grid` blocks covers any `n`, each lane summing every
  (grid * block)-th element into a float32 local (`hg.float32(0.0)` fixes its type).
  `hg.grid_dim()` and `hg.block_dim()` give the stride; `while` loops run per lane.
- `hg.block_sum(s)`: every lane gets the sum over its block. Like `hg.barrier()`, a block
  reduction must be reached by every lane, so it may not sit inside an `if`; lanes with no
  elements simply contribute their 0.
- `hg.atomic_add(out, 0, total)` from lane 0 only: one atomic per block, not one per element.
  `out` must be zeroed before the launch.

The grid: 64 blocks of 256 lanes. On the 2-core development machine, with the cpu backend
running blocks in parallel, 16 and 64 blocks took the same time at 1e6 elements and 64 was
about 7% faster at 1e7; 256 and 1024 blocks were 15-70% slower at 1e6, where each block's
reduction and atomic is a larger share of the work. Fewer blocks than threads would leave
cores idle, and a GPU wants several blocks per multiprocessor: pass `--grid` to try others.

The sum is accumulated in float32 and compared with NumPy's float64 sum; the error allowed is
`TOLERANCE * n` (each x * x is about 1, so the sum is about n).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import hologram
import hologram as hg

BLOCK = 256
"""Lanes per block."""
GRID = 64
"""Blocks in the grid (see the module docstring for why 64)."""
TOLERANCE = 1e-5
"""Largest error allowed per element summed: float32 partial sums lose ~1e-7 each."""


@hg.kernel
def sum_of_squares(x: hg.Array[hg.float32], out: hg.Array[hg.float32], n: hg.uint32):
    """out[0] += the sum of x[i] * x[i] over i < n (out[0] starts at 0)."""
    s = hg.float32(0.0)
    i = hg.global_id()
    stride = hg.grid_dim() * hg.block_dim()
    while i < n:
        v = x[i]
        s += v * v
        i += stride
    total = hg.block_sum(s)
    if hg.lane_id() == 0:
        hg.atomic_add(out, 0, total)


def launch_config(n: int, grid: int = GRID) -> hologram.LaunchConfig:
    """`grid` blocks of `BLOCK` lanes, fewer when `n` needs fewer."""
    return hologram.LaunchConfig(min(grid, hg.blocks(n, BLOCK)), BLOCK)


def run(executor: hologram.Executor, x: np.ndarray, grid: int = GRID) -> float:
    """sum(x * x) of a float32 array, computed by the kernel on `executor` over `grid` blocks."""
    out = np.zeros(1, dtype=np.float32)
    sum_of_squares[launch_config(x.size, grid)](x, out, x.size, executor=executor)
    return float(out[0])


def check(executor: hologram.Executor, size: int, grid: int = GRID, seed: int = 0) -> bool:
    """Run the kernel on random data on `executor`; print one line; True when it matches."""
    x = np.random.default_rng(seed).standard_normal(size, dtype=np.float32)
    got = run(executor, x, grid)
    x64 = x.astype(np.float64)
    expected = float(np.dot(x64, x64))
    error = abs(got - expected)
    allowed = TOLERANCE * max(size, 1)
    ok = error <= allowed
    print(
        f"{executor.backend_name:<10} sum_of_squares n={size:<10} max error {error:.2e} "
        f"(tolerance {allowed:.1e})  {'ok' if ok else 'FAIL'}"
    )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Check the reduction on each chosen backend; 0 when every one matches NumPy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        action="append",
        help="a backend to run on (repeatable; default: every available backend)",
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="elements (default 1e6)")
    parser.add_argument("--grid", type=int, default=GRID, help=f"blocks (default {GRID})")
    args = parser.parse_args(argv)
    if args.size < 1 or args.grid < 1:
        parser.error("--size and --grid must be at least 1")
    backends = args.backend or hologram.available_backends()
    results = [check(hologram.Executor(name), args.size, args.grid) for name in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
