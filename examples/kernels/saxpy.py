"""saxpy, out = a * x + y: the smallest complete kernel, one lane per element.

    python examples/kernels/saxpy.py [--backend cpu] [--size 1000000]

What it shows of the kernel language:
- `@hg.kernel` on a plain Python function; `hg.global_id()` is this lane's element index.
- The bounds check `if i < n`: the grid is rounded up to whole blocks (`hg.blocks(n)`), so
  the last block has lanes past the end, and those lanes do nothing.
- Generic parameters: `hg.Array` takes its dtype from the argument and `hg.Scalar` from the
  number, so one kernel gives a float32 program for float32 arrays and a float64 program for
  float64 ones (each signature is lowered once and cached).
- Launching as `kernel[grid, block](args..., executor=ex)` (or `kernel[LaunchConfig]`) on
  NumPy arrays: on host backends
  the arrays are the kernel's memory (no copy), and `out` is written in place.

Each backend's result is compared with NumPy computing in float64; the script prints one line
per backend and exits with status 1 if any is off by more than `TOLERANCE`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import hologram
import hologram as hg

BLOCK = 256
"""Lanes per block: a multiple of every backend's SIMD/warp width."""
TOLERANCE = 1e-6
"""Largest error allowed, relative to the largest |a * x + y|: a few float32 roundings."""


@hg.kernel
def saxpy(a: hg.Scalar, x: hg.Array, y: hg.Array, out: hg.Array, n: hg.uint32):
    """out[i] = a * x[i] + y[i] for every i < n."""
    i = hg.global_id()
    if i < n:
        out[i] = a * x[i] + y[i]


def launch_config(n: int) -> hologram.LaunchConfig:
    """One lane per element, in blocks of `BLOCK` lanes."""
    return hologram.LaunchConfig(hg.blocks(n, BLOCK), BLOCK)


def run(executor: hologram.Executor, a: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`a * x + y` computed by the kernel on `executor`, in the dtype of `x`."""
    out = np.empty_like(x)
    # A NumPy scalar of x's dtype: a float64 saxpy gets a float64 `a`, not a rounded float32.
    saxpy[launch_config(x.size)](x.dtype.type(a), x, y, out, x.size, executor=executor)
    return out


def check(executor: hologram.Executor, size: int, seed: int = 0) -> bool:
    """Run saxpy on random float32 data on `executor`; print one line; True when it matches."""
    rng = np.random.default_rng(seed)
    a = 2.5
    x = rng.standard_normal(size, dtype=np.float32)
    y = rng.standard_normal(size, dtype=np.float32)
    got = run(executor, a, x, y)
    expected = a * x.astype(np.float64) + y.astype(np.float64)
    error = float(np.max(np.abs(got - expected), initial=0.0))
    scale = float(np.max(np.abs(expected), initial=1.0))
    ok = error <= TOLERANCE * scale
    print(
        f"{executor.backend_name:<10} saxpy n={size:<10} max error {error:.2e} "
        f"(tolerance {TOLERANCE * scale:.1e})  {'ok' if ok else 'FAIL'}"
    )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Check saxpy on each chosen backend; 0 when every one matches NumPy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        action="append",
        help="a backend to run on (repeatable; default: every available backend)",
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="elements (default 1e6)")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    backends = args.backend or hologram.available_backends()
    results = [check(hologram.Executor(name), args.size) for name in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
