"""Histogram of integer values: one lane per value, counting with atomic adds.

    python examples/kernels/histogram.py [--backend cpu] [--size 1000000] [--bins 256]

`hist[v]` counts the values equal to `v`, for every `v` in [0, bins); values outside that range
are not counted. The result must equal NumPy's `np.bincount` exactly.

What it shows of the kernel language:
- `hg.atomic_add(hist, v, 1)`: many lanes add to the same bin, and atomics make each
  read-modify-write indivisible, so no count is lost. (It returns the bin's old value, which
  this kernel does not need.)
- A generic input array, `values: hg.Array`: int32, uint8, int64, ... each give their own
  program; the bin index is the value itself.
- `and` short-circuits: `v < bins` is only evaluated for non-negative `v`, and the atomic only
  runs for values in range.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import hologram
import hologram as hg

BLOCK = 256
"""Lanes per block."""


@hg.kernel
def histogram(values: hg.Array, hist: hg.Array[hg.int32], n: hg.uint32, bins: hg.int32):
    """hist[v] += 1 for each of the n values v in [0, bins) (hist starts at 0)."""
    i = hg.global_id()
    if i < n:
        v = values[i]
        if v >= 0 and v < bins:
            hg.atomic_add(hist, v, 1)


def launch_config(n: int) -> hologram.LaunchConfig:
    """One lane per value, in blocks of `BLOCK` lanes."""
    return hologram.LaunchConfig(hg.blocks(n, BLOCK), BLOCK)


def run(executor: hologram.Executor, values: np.ndarray, bins: int) -> np.ndarray:
    """The int32 counts of each value in [0, bins) among `values`, computed on `executor`."""
    hist = np.zeros(bins, dtype=np.int32)
    histogram[launch_config(values.size)](values, hist, values.size, bins, executor=executor)
    return hist


def numpy_histogram(values: np.ndarray, bins: int) -> np.ndarray:
    """The same counts with NumPy: `np.bincount` of the values in range."""
    in_range = values[(values >= 0) & (values < bins)]
    return np.bincount(in_range, minlength=bins)


def check(executor: hologram.Executor, size: int, bins: int, seed: int = 0) -> bool:
    """Count random int32 values on `executor`; print one line; True when the counts are exact.

    The values are drawn from [-8, bins + 8), so that some fall outside the histogram.
    """
    values = np.random.default_rng(seed).integers(-8, bins + 8, size, dtype=np.int32)
    got = run(executor, values, bins)
    expected = numpy_histogram(values, bins)
    error = int(np.max(np.abs(got.astype(np.int64) - expected)))
    ok = error == 0
    print(
        f"{executor.backend_name:<10} histogram n={size:<10} bins={bins:<6} max error {error} "
        f"(tolerance 0)  {'ok' if ok else 'FAIL'}"
    )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Check the histogram on each chosen backend; 0 when every one matches NumPy exactly."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        action="append",
        help="a backend to run on (repeatable; default: every available backend)",
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="values (default 1e6)")
    parser.add_argument("--bins", type=int, default=256, help="bins (default 256)")
    args = parser.parse_args(argv)
    if args.size < 1 or args.bins < 1:
        parser.error("--size and --bins must be at least 1")
    backends = args.backend or hologram.available_backends()
    results = [check(hologram.Executor(name), args.size, args.bins) for name in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
